import Foundation

/// Which event bus a service joins, chosen by configuration: the embedded log file shared
/// by the system's processes on one machine by default, NATS JetStream when `MSA_BUS`
/// names servers.
public enum BusSelection: Sendable, Equatable {
    case sqlite(path: String)
    /// `servers` as `nats://host:port`; `replicas` copies of every event.
    case jetStream(servers: [String], replicas: Int)

    /// From `environment`:
    /// - `MSA_BUS`: `sqlite` (default: `<dataDirectory>/bus.sqlite`) or NATS servers,
    ///   `nats://host1:4222,nats://host2:4222,…` (any of the cluster; the others are learned);
    /// - `MSA_BUS_REPLICAS`: copies of each event in the cluster; by default 3 when three or
    ///   more servers are named, else 1. Applies when the system's stream is created.
    public static func resolve(dataDirectory: String, environment: [String: String]) throws -> BusSelection {
        guard let choice = environment["MSA_BUS"]?.trimmingCharacters(in: .whitespaces), !choice.isEmpty, choice != "sqlite" else {
            return .sqlite(path: "\(dataDirectory)/bus.sqlite")
        }
        let servers = choice.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard servers.allSatisfy({ $0.hasPrefix("nats://") }), (try? servers.map { try NATSClient.parse(servers: $0) }) != nil else {
            throw NATSError.invalidURL("MSA_BUS must be sqlite or nats:// URLs separated by commas, got \(choice)")
        }
        let replicas: Int
        if let text = environment["MSA_BUS_REPLICAS"] {
            guard let value = Int(text), (1...5).contains(value) else {
                throw NATSError.invalidURL("MSA_BUS_REPLICAS must be 1 to 5, got \(text)")
            }
            replicas = value
        } else {
            replicas = servers.count >= 3 ? 3 : 1
        }
        return .jetStream(servers: servers, replicas: replicas)
    }

    /// Opens the selected bus for `service` of `system`.
    public func open(system: String, service: String, partitions: Int, retention: Duration) async throws -> any EventBus {
        switch self {
        case .sqlite(let path):
            return try SQLiteEventLog(path: path, partitions: partitions)
        case .jetStream(let servers, let replicas):
            var settings = JetStreamBus.Settings()
            settings.partitions = partitions
            settings.replicas = replicas
            settings.maxAge = retention
            return try await JetStreamBus.connect(servers: servers, system: system, settings: settings,
                                                  name: "\(system)-\(service)-\(ProcessInfo.processInfo.processIdentifier)")
        }
    }

    public var summary: String {
        switch self {
        case .sqlite(let path): "sqlite \(path)"
        case .jetStream(let servers, let replicas): "jetstream \(servers.joined(separator: ",")) replicas \(replicas)"
        }
    }
}
