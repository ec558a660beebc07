import Chassis
import Foundation
import Gateway
import ServiceLifecycle

/// Hosts the gateway with the system's routes; `<SERVICE>_URLS` overrides a service's replicas.
enum GatewayServer {
    static func run(system: SystemDefinition, host: String, port: Int, environment: [String: String]) async throws {
        Telemetry.bootstrap()
        var replicas: [String: [String]] = [:]
        for member in system.services {
            if let urls = environment["\(member.name.uppercased())_URLS"] {
                replicas[member.name] = urls.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            }
        }
        var logger = Logger(label: "gateway")
        logger[metadataKey: "service"] = "gateway"
        let log = logger
        let gateway = Gateway(routes: Gateway.routes(for: system, host: "127.0.0.1", replicas: replicas))
        let app = Application(router: gateway.router(), server: HTTPEdge.server,
                              configuration: .init(address: .hostname(host, port: port), serverName: "gateway"),
                              onServerRunning: { _ in log.info("listening", metadata: ["address": "http://\(host):\(port)"]) },
                              logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            try? await gateway.client.shutdown()
            throw error
        }
        try await gateway.client.shutdown()
    }
}
