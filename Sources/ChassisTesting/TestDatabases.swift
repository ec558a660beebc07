import Chassis
import Foundation
import Logging
import PostgresNIO

/// The production-mode servers `scripts/infra.sh` starts for the test command, found
/// through the environment it writes (`MSA_TEST_POSTGRES`, …). A bare `swift test`
/// without them skips the tests that need a server; `scripts/test.sh` sets
/// `MSA_TEST_REQUIRE_SERVERS`, under which their absence is a failure.
public enum TestServers {
    public static var postgresURL: String? { ProcessInfo.processInfo.environment["MSA_TEST_POSTGRES"] }
    /// The same server through its Unix-domain socket (`?host=/directory`).
    public static var postgresSocketURL: String? { ProcessInfo.processInfo.environment["MSA_TEST_POSTGRES_SOCKET"] }
    /// A single NATS server with JetStream.
    public static var natsURL: String? { ProcessInfo.processInfo.environment["MSA_TEST_NATS"] }
    public static var required: Bool { ProcessInfo.processInfo.environment["MSA_TEST_REQUIRE_SERVERS"] != nil }

    /// A new, empty store in a schema of its own on the test PostgreSQL server.
    public static func makePostgresStore(service: String = "test") async throws -> PostgresStore {
        guard let url = postgresURL else { throw ConformanceFailure("MSA_TEST_POSTGRES is not set: run scripts/infra.sh start postgres") }
        return try await PostgresStore(url: url, schema: "t_\(RandomID.uuid().replacingOccurrences(of: "-", with: "").prefix(16))",
                                       service: service)
    }
}

/// Runs `body` with the URL of a new, empty database on the test PostgreSQL server (for a
/// whole system: each service makes its schema there), dropped afterwards.
public func withPostgresDatabase<T>(isolation: isolated (any Actor)? = #isolation,
                                    _ body: (String) async throws -> T) async throws -> T {
    guard let url = TestServers.postgresURL else { throw ConformanceFailure("MSA_TEST_POSTGRES is not set: run scripts/infra.sh start postgres") }
    let name = "t_\(RandomID.uuid().replacingOccurrences(of: "-", with: "").prefix(16))"
    try await TestServers.administer(url, "CREATE DATABASE \(name)")
    let target = try PostgresURL(url)
    let databaseURL = target.url(database: name)
    do {
        let result = try await body(databaseURL)
        try await TestServers.administer(url, "DROP DATABASE \(name) WITH (FORCE)")
        return result
    } catch {
        try? await TestServers.administer(url, "DROP DATABASE \(name) WITH (FORCE)")
        throw error
    }
}

extension TestServers {
    /// Runs one statement (outside a transaction, as CREATE DATABASE needs) on the server of `url`.
    static func administer(_ url: String, _ sql: String) async throws {
        let target = try PostgresURL(url)
        let connection = try await PostgresConnection.connect(
            configuration: target.connectionConfiguration,
            id: 1, logger: Logger(label: "test-admin"))
        defer { Task { try? await connection.close() } }
        _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test-admin"))
    }
}

/// Runs `body` with a fresh PostgreSQL store and drops its schema afterwards, however
/// `body` ends.
public func withPostgresStore<T>(service: String = "test", isolation: isolated (any Actor)? = #isolation,
                                 _ body: (PostgresStore) async throws -> T) async throws -> T {
    let store = try await TestServers.makePostgresStore(service: service)
    do {
        let result = try await body(store)
        try await store.dropSchemaAndClose()
        return result
    } catch {
        try? await store.dropSchemaAndClose()
        throw error
    }
}

/// Servers `scripts/infra.sh` starts for one test alone, in a temporary directory on free
/// ports, for tests that stop, restart or kill them: the shared test servers must stay up
/// for the tests running beside them. Stopped by PID however the test ends.
struct PrivateInfra: Sendable {
    let directory: TemporaryDirectory
    /// What the script exported (`MSA_TEST_POSTGRES`, …).
    let environment: [String: String]

    static func with<T>(_ part: String, isolation: isolated (any Actor)? = #isolation,
                        _ body: (PrivateInfra) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory(prefix: "msa-\(part)")
        // Only its owner may enter it, as `mktemp -d` makes a clone's parent: the servers
        // must run all the same (PostgreSQL runs as `postgres` when the tests run as root).
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        func stop() async {
            _ = try? await run(["stop"], directory)
            directory.remove()
        }
        do {
            var environment: [String: String] = [:]
            for line in try await run(["start", part], directory).split(separator: "\n") where line.hasPrefix("export ") {
                let assignment = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
                if assignment.count == 2 { environment[String(assignment[0])] = String(assignment[1]) }
            }
            let result = try await body(PrivateInfra(directory: directory, environment: environment))
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }

    func value(_ name: String) throws -> String {
        guard let value = environment[name] else { throw ConformanceFailure("infra.sh exported no \(name): \(environment)") }
        return value
    }

    func run(_ arguments: [String]) async throws { _ = try await Self.run(arguments, directory) }

    /// Runs `infra.sh` and waits for it without holding a thread: `waitUntilExit` would
    /// block one of the few threads Swift concurrency runs every test on, for as long as
    /// the script waits for a server to stop or start.
    static func run(_ arguments: [String], _ directory: TemporaryDirectory) async throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        // Output goes to a file, not a pipe: the servers the script starts inherit the
        // process's descriptors, and a pipe they hold open would never reach its end.
        let outputPath = directory.file("infra-\(arguments[0]).out")
        guard FileManager.default.createFile(atPath: outputPath, contents: nil) else {
            throw ConformanceFailure("cannot create \(outputPath)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("scripts/infra.sh").path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["MSA_INFRA_DIR": directory.file("infra")]) { _, new in new }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw ConformanceFailure("infra.sh \(arguments.joined(separator: " ")) exited with \(status)")
        }
        return output
    }
}

/// A PostgreSQL server of one test's own, for tests that stop and restart the database.
public struct PrivatePostgres: Sendable {
    public let url: String
    let infra: PrivateInfra

    public static func with<T>(isolation: isolated (any Actor)? = #isolation,
                               _ body: (PrivatePostgres) async throws -> T) async throws -> T {
        try await PrivateInfra.with("postgres") { infra in
            try await body(PrivatePostgres(url: try infra.value("MSA_TEST_POSTGRES"), infra: infra))
        }
    }

    /// Fast shutdown: clients are disconnected, every commit is kept.
    public func halt() async throws { try await infra.run(["postgres-stop"]) }
    /// Starts the server again on the same port and data.
    public func restart() async throws { try await infra.run(["postgres-start"]) }
}

/// A NATS server with JetStream of one test's own: a system's stream is named after the
/// system, so two runs of Rental must not share a server.
public struct PrivateNATS: Sendable {
    public let url: String

    public static func with<T>(isolation: isolated (any Actor)? = #isolation,
                               _ body: (PrivateNATS) async throws -> T) async throws -> T {
        try await PrivateInfra.with("nats") { infra in try await body(PrivateNATS(url: try infra.value("MSA_TEST_NATS"))) }
    }
}

/// A 3-node NATS JetStream cluster of one test's own, for tests that kill nodes.
public struct PrivateNATSCluster: Sendable {
    /// `nats://127.0.0.1:P1`, `nats://127.0.0.1:P2`, `nats://127.0.0.1:P3`
    public let urls: [String]
    /// The server processes, in the order of ``urls``.
    public let pids: [Int32]

    public static func with<T>(isolation: isolated (any Actor)? = #isolation,
                               _ body: (PrivateNATSCluster) async throws -> T) async throws -> T {
        try await PrivateInfra.with("nats-cluster") { infra in
            try await body(PrivateNATSCluster(urls: try infra.value("MSA_TEST_NATS_CLUSTER").split(separator: ",").map(String.init),
                                              pids: try infra.value("MSA_TEST_NATS_CLUSTER_PIDS").split(separator: ",").compactMap { Int32($0) }))
        }
    }

    /// Kills node `index` (0-based) with SIGKILL, as a crash would.
    public func kill(node index: Int) {
        _ = Foundation.kill(pids[index], SIGKILL)
    }
}

/// Runs `body` with a new, empty JetStream bus (a system of its own: its stream and lease
/// bucket) on the test NATS server, or on `servers`; deletes both afterwards.
public func withJetStreamBus<T>(servers: [String]? = nil, partitions: Int = 4, replicas: Int = 1,
                                isolation: isolated (any Actor)? = #isolation,
                                _ body: (JetStreamBus) async throws -> T) async throws -> T {
    guard let servers = servers ?? TestServers.natsURL.map({ [$0] }) else {
        throw ConformanceFailure("MSA_TEST_NATS is not set: run scripts/infra.sh start nats")
    }
    var settings = JetStreamBus.Settings()
    settings.partitions = partitions
    settings.replicas = replicas
    let system = "t\(RandomID.uuid().replacingOccurrences(of: "-", with: "").prefix(12))"
    let bus = try await JetStreamBus.connect(servers: servers, system: system, settings: settings, name: "test-\(system)")
    func cleanUp() async {
        for stream in ["MSA_\(system.uppercased())", "KV_MSA_\(system.uppercased())_GROUPS"] {
            _ = try? await bus.jetStream.api("STREAM.DELETE.\(stream)")
        }
        await bus.close()
    }
    do {
        let result = try await body(bus)
        await cleanUp()
        return result
    } catch {
        await cleanUp()
        throw error
    }
}
