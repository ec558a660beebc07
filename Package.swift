// swift-tools-version: 6.1
import PackageDescription

/// A system: one folder `Sources/<name>` holding `Contracts/`, one folder per service and
/// `System/` (its definition, seed scenario and benchmark workload), tested by
/// `Tests/<name>Tests`. A service depends on the chassis and its system's contracts only.
struct SystemTargets {
    let name: String
    let services: [String]

    var targets: [Target] {
        let serviceTargets = services.map { "\(name)\($0)" }
        return [.target(name: "\(name)Contracts", dependencies: ["Chassis"], path: "Sources/\(name)/Contracts")]
            + services.map { service in
                .target(name: "\(name)\(service)", dependencies: ["Chassis", .target(name: "\(name)Contracts")],
                        path: "Sources/\(name)/\(service)")
            }
            + [
                .target(name: name, dependencies: ["Chassis", "SystemDriver", .target(name: "\(name)Contracts")]
                            + serviceTargets.map { .target(name: $0) },
                        path: "Sources/\(name)/System"),
                .testTarget(name: "\(name)Tests",
                            dependencies: ["Chassis", "ChassisTesting", .target(name: name), .target(name: "\(name)Contracts"),
                                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                                           .product(name: "AsyncHTTPClient", package: "async-http-client")]
                                + serviceTargets.map { .target(name: $0) }),
            ]
    }
}

/// Every system, one line each: its folder's name and its services' folders.
let systems = [
    SystemTargets(name: "Rental", services: ["Reserve", "Payment", "Lend", "Promotion", "MyPage", "Notification"]),
    SystemTargets(name: "GameReward", services: ["Mission", "Reward", "Wallet", "Gift", "MyPage"]),
    SystemTargets(name: "Vaccine", services: ["User", "Reservation", "Hospital", "Stock", "Dashboard"]),
    SystemTargets(name: "Cafe", services: ["Order", "Payment", "Drink", "Delivery", "DeliveryCenter"]),
    SystemTargets(name: "Shop", services: ["Order", "ProductDelivery", "Marketing"]),
]

let package = Package(
    name: "msa",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "msa", targets: ["MSA"]),
        .library(name: "Chassis", targets: ["Chassis"]),
        .library(name: "ChassisTesting", targets: ["ChassisTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "Chassis",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .target(
            name: "ChassisTesting",
            dependencies: [
                "Chassis", "SystemDriver",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "Chassis",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),

        .target(
            name: "SystemDriver",
            dependencies: [
                "Chassis",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),

        .executableTarget(
            name: "MSA",
            dependencies: [
                "Chassis", "Gateway", "SystemDriver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ] + systems.map { .target(name: $0.name) }
        ),

        .testTarget(
            name: "ChassisTests",
            dependencies: [
                "Chassis", "ChassisTesting", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "SystemTests",
            dependencies: ["Chassis", "ChassisTesting", "Gateway", .product(name: "AsyncHTTPClient", package: "async-http-client")]
                + systems.map { .target(name: $0.name) }
        ),
    ] + systems.flatMap(\.targets)
)
