import Foundation
import Hummingbird
import Logging
import Synchronization

/// Everything that makes one service what it is, and nothing about how it is hosted: its
/// name, its policies (the events it reacts to), its routes and its background jobs.
/// Each service module exports one, built by its wiring function.
public struct ServiceDefinition: Sendable {
    public typealias Routes = @Sendable (Router<BasicRequestContext>, ServiceRuntime) -> Void
    /// A background job, declared with what it is: ``every(_:_:)`` for one that runs again
    /// and again, ``once(_:)`` for a one-off at start, which the service's readiness waits for.
    public struct Job: Sendable {
        let body: @Sendable (ServiceRuntime) async throws -> Void
        /// A one-off the service must finish before it reports ready.
        let atStart: Bool

        public func callAsFunction(_ runtime: ServiceRuntime) async throws { try await body(runtime) }

        /// Runs `body` once, as the service starts (productdelivery stocking its shelves
        /// from its configuration: `jobs: [.once { runtime in … }]`). The service reports
        /// not ready (`/actuator/health/readiness`, component `start`) until it has
        /// succeeded, so no load balancer and no `msa up` sends it work before; while it
        /// throws, it is logged and run again after a backoff.
        public static func once(_ body: @escaping @Sendable (ServiceRuntime) async throws -> Void) -> Job { Job(body: body, atStart: true) }

        /// Runs `body` every `interval` — the first time one interval after the service
        /// starts — until shutdown, on a loop timer: a job is declared with its interval,
        /// never written as a loop with a sleep. A `body` that throws is logged and the job
        /// started again after a backoff, like any job.
        public static func every(_ interval: Duration, _ body: @escaping @Sendable (ServiceRuntime) async throws -> Void) -> Job {
            Job(body: { runtime in
                while true {
                    try await LoopTimer.sleep(for: interval)
                    try await body(runtime)
                }
            }, atStart: false)
        }
    }

    public var name: String
    /// The events it reacts to. For a definition made with configured policies
    /// (``init(name:configuredPolicies:jobs:internalRoutes:routes:)``), empty until a host
    /// made them from its runtime (``ServiceHost/definition`` holds them).
    public var policies: Policies
    /// Makes the policies from the running service's configuration, once per host.
    var configurePolicies: (@Sendable (ServiceRuntime) throws -> Policies)?
    public var routes: Routes
    public var jobs: [Job]
    /// Routes only the system's own services may call (``InternalRoute``).
    public var internalRoutes: [InternalRoute]

    public init(name: String, policies: Policies = Policies(), jobs: [Job] = [], internalRoutes: [InternalRoute] = [],
                routes: @escaping Routes) {
        self.name = name
        self.policies = policies
        self.routes = routes
        self.jobs = jobs
        self.internalRoutes = internalRoutes
    }

    /// A service whose policies read its configuration (hospital: the vaccine types of
    /// `VACCINE_TYPE`): `configuredPolicies` makes them once per running service, from its
    /// runtime, before its consumer starts. Policies are otherwise declared before any
    /// runtime exists. A setting they cannot use is thrown as a ``SettingError``: the
    /// service does not start, and says why.
    public init(name: String, configuredPolicies: @escaping @Sendable (ServiceRuntime) throws -> Policies, jobs: [Job] = [],
                internalRoutes: [InternalRoute] = [], routes: @escaping Routes) {
        self.init(name: name, jobs: jobs, internalRoutes: internalRoutes, routes: routes)
        self.configurePolicies = configuredPolicies
    }

    /// This definition with its policies made for `runtime` (itself when they need none).
    func configured(for runtime: ServiceRuntime) throws -> ServiceDefinition {
        guard let configurePolicies else { return self }
        var configured = self
        configured.policies = try configurePolicies(runtime)
        configured.configurePolicies = nil
        return configured
    }
}

/// A setting a service cannot start with (`STOCK_INITIAL=1:ITbook=lots`): the message
/// names the setting and the form it takes.
public struct SettingError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
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
    /// The gated calls declared in this service's wiring (``gatedCall(_:to:defaultURL:_:call:undo:)``).
    let calls = CallRegistry()

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

    public func setting(_ key: String, default fallback: Int64) -> Int64 {
        environment[key].flatMap(Int64.init) ?? fallback
    }

    /// A resilient client for `service`, whose base URL comes from `<SERVICE>_URL`
    /// (the seed's ConfigMap `apiurl`) or `fallback`, tuned by (defaults in brackets):
    ///
    /// | setting | meaning |
    /// |---|---|
    /// | `<SERVICE>_TIMEOUT_MS` (610) | one attempt's limit, the seeds' Feign timeout |
    /// | `<SERVICE>_MAX_CONCURRENT` (64) | calls in flight at once (the bulkhead) |
    /// | `<SERVICE>_QUEUE_WAIT_MS` (250) | how long a call waits for a slot when all are taken |
    /// | `<SERVICE>_QUEUE_LIMIT` (4 × max concurrent) | how many calls may wait |
    /// | `<SERVICE>_BREAKER_FAILURES` (10) | failures among the last calls that open the breaker |
    /// | `<SERVICE>_BREAKER_WINDOW` (20) | how many of the last calls count |
    /// | `<SERVICE>_BREAKER_OPEN_MS` (1000) | the first open period, doubled while probes fail |
    /// | `<SERVICE>_BREAKER_MAX_OPEN_MS` (30000) | the longest open period |
    /// | `<SERVICE>_BREAKER_PROBES` (3) | probe calls half-open admits; their successes close it |
    /// | `<SERVICE>_RETRIES` (1) | extra attempts of an idempotent call |
    /// | `<SERVICE>_READINESS_PATH` (`/actuator/health/readiness`) | asked while the breaker is open, which lets probes through as soon as the target says it is ready; `none`: the open period alone decides |
    ///
    /// One client per target and process: every caller of `service` in this service shares
    /// its breaker and bulkhead, so what one caller learns about the target (it is down)
    /// protects the others too.
    ///
    /// `defaults` replaces the bracketed defaults for a target whose seed sets its own
    /// (gift: one call pending at a time, the seed's Istio rule); the settings still win.
    /// The first caller's defaults make the shared client.
    public func client(for service: String, defaultURL fallback: String, defaults: CallPolicy = CallPolicy()) -> ServiceClient {
        clients.client(for: service) { makeClient(for: service, defaultURL: fallback, defaults: defaults) }
    }

    private func makeClient(for service: String, defaultURL fallback: String, defaults: CallPolicy) -> ServiceClient {
        let prefix = service.uppercased()
        var policy = CallPolicy()
        policy.timeout = .milliseconds(setting("\(prefix)_TIMEOUT_MS", default: defaults.timeout.wholeMilliseconds))
        policy.maxConcurrent = setting("\(prefix)_MAX_CONCURRENT", default: defaults.maxConcurrent)
        policy.queueWait = .milliseconds(setting("\(prefix)_QUEUE_WAIT_MS", default: defaults.queueWait.wholeMilliseconds))
        // The line keeps its proportion to the bulkhead when only the bulkhead is set,
        // unless the defaults gave the line a size of their own.
        let lineOfItsOwn = defaults.queueLimit != 4 * defaults.maxConcurrent
        policy.queueLimit = setting("\(prefix)_QUEUE_LIMIT", default: lineOfItsOwn ? defaults.queueLimit : 4 * policy.maxConcurrent)
        policy.failureThreshold = setting("\(prefix)_BREAKER_FAILURES", default: defaults.failureThreshold)
        policy.failureWindow = setting("\(prefix)_BREAKER_WINDOW", default: max(defaults.failureWindow, policy.failureThreshold))
        policy.openDuration = .milliseconds(setting("\(prefix)_BREAKER_OPEN_MS", default: defaults.openDuration.wholeMilliseconds))
        policy.maxOpenDuration = .milliseconds(setting("\(prefix)_BREAKER_MAX_OPEN_MS", default: defaults.maxOpenDuration.wholeMilliseconds))
        policy.halfOpenProbes = setting("\(prefix)_BREAKER_PROBES", default: defaults.halfOpenProbes)
        policy.retries = setting("\(prefix)_RETRIES", default: defaults.retries)
        let readiness = setting("\(prefix)_READINESS_PATH", default: defaults.readinessPath ?? "none")
        policy.readinessPath = readiness == "none" ? nil : readiness.hasPrefix("/") ? readiness : "/" + readiness
        return ServiceClient(name: service, baseURL: setting("\(prefix)_URL", default: fallback), policy: policy, logger: logger,
                             internalToken: InternalRoute.token(in: environment))
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
