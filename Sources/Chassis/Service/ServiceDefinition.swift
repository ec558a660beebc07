import Foundation
import Hummingbird
import Logging
import Synchronization

/// Everything that makes one service what it is, and nothing about how it is hosted: its
/// name, its policies (the events it reacts to), its routes and its background jobs.
/// Each service module exports one, built by its wiring function.
public struct ServiceDefinition: Sendable {
    public typealias Routes = @Sendable (Router<BasicRequestContext>, ServiceRuntime) -> Void
    public typealias Job = @Sendable (ServiceRuntime) async throws -> Void

    public var name: String
    public var policies: Policies
    public var routes: Routes
    public var jobs: [Job]

    public init(name: String, policies: Policies = Policies(), jobs: [Job] = [], routes: @escaping Routes) {
        self.name = name
        self.policies = policies
        self.routes = routes
        self.jobs = jobs
    }
}

/// What a running service is given: its store, the bus, its configuration and clients
/// for the services it calls.
public struct ServiceRuntime: Sendable {
    public let name: String
    public let store: any Store
    public let bus: any EventBus
    public let environment: [String: String]
    public let logger: Logger
    private let clients = ClientRegistry()

    public init(name: String, store: any Store, bus: any EventBus, environment: [String: String], logger: Logger) {
        self.name = name
        self.store = store
        self.bus = bus
        self.environment = environment
        self.logger = logger
    }

    /// A configuration value from the environment (Kubernetes ConfigMap/Secret), or `fallback`.
    public func setting(_ key: String, default fallback: String) -> String {
        environment[key].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }

    public func setting(_ key: String, default fallback: Int) -> Int {
        environment[key].flatMap(Int.init) ?? fallback
    }

    /// A resilient client for `service`, whose base URL comes from `<SERVICE>_URL`
    /// (the seed's ConfigMap `apiurl`) or `fallback`; timeout and breaker settings from
    /// `<SERVICE>_TIMEOUT_MS`, `<SERVICE>_BREAKER_FAILURES`, `<SERVICE>_BREAKER_OPEN_MS`,
    /// `<SERVICE>_MAX_CONCURRENT`.
    ///
    /// One client per target and process: every caller of `service` in this service shares
    /// its breaker and bulkhead, so what one caller learns about the target (it is down)
    /// protects the others too.
    public func client(for service: String, defaultURL fallback: String) -> ServiceClient {
        clients.client(for: service) { makeClient(for: service, defaultURL: fallback) }
    }

    private func makeClient(for service: String, defaultURL fallback: String) -> ServiceClient {
        let prefix = service.uppercased()
        var policy = CallPolicy()
        policy.timeout = .milliseconds(setting("\(prefix)_TIMEOUT_MS", default: 610))
        policy.failureThreshold = setting("\(prefix)_BREAKER_FAILURES", default: policy.failureThreshold)
        policy.openDuration = .milliseconds(setting("\(prefix)_BREAKER_OPEN_MS", default: 5000))
        policy.maxConcurrent = setting("\(prefix)_MAX_CONCURRENT", default: policy.maxConcurrent)
        return ServiceClient(name: service, baseURL: setting("\(prefix)_URL", default: fallback), policy: policy)
    }
}

/// The clients a service has made, by target.
final class ClientRegistry: Sendable {
    private let clients = Mutex<[String: ServiceClient]>([:])

    func client(for service: String, make: () -> ServiceClient) -> ServiceClient {
        clients.withLock { clients in
            if let existing = clients[service] { return existing }
            let client = make()
            clients[service] = client
            return client
        }
    }
}
