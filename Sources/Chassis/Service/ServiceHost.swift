import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Where and how one service process runs: its address, data, bus and tuning.
/// `msa serve` fills it from the environment; tests fill it directly.
public struct HostSettings: Sendable {
    public var system: String
    public var host = "127.0.0.1"
    public var port: Int
    /// The directory holding the system's `bus.sqlite` and the services' SQLite stores.
    public var dataDirectory: String
    public var partitions = 8
    public var consumer = ConsumerSettings()
    /// How long published outbox rows, handled-event records and log events are kept.
    public var retention: Duration = .seconds(7 * 24 * 3600)
    /// How long the service stays up but not ready after SIGTERM before it closes its
    /// listener (Kubernetes: lets endpoints drop the pod first). 0 for local runs.
    public var drainDelay: Duration = .zero
    public var environment: [String: String]

    public init(system: String, port: Int, dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.system = system
        self.port = port
        self.dataDirectory = dataDirectory
        self.environment = environment
    }


}

/// Hosts a ``ServiceDefinition``: one wiring of HTTP, store, outbox relay, consumer,
/// retention and health for every service, so service code contains none of it.
public struct ServiceHost: Sendable {
    public let definition: ServiceDefinition
    public let runtime: ServiceRuntime
    public let settings: HostSettings
    public let health: Health
    public let member: String
    /// `<SERVICE>_DELAY_MS` (``InboundDelay``), nil when unset.
    public let inboundDelay: InboundDelay?

    /// Opens the service's store (``StoreSelection``) and the system's bus
    /// (``BusSelection``) as configured.
    public static func open(_ member: SystemDefinition.Member, settings: HostSettings, logger: Logger? = nil) async throws -> ServiceHost {
        let selection = try StoreSelection.resolve(system: settings.system, service: member.name, preference: member.storePreference,
                                                   dataDirectory: settings.dataDirectory, environment: settings.environment)
        let busSelection = try BusSelection.resolve(dataDirectory: settings.dataDirectory, environment: settings.environment)
        let store = try await selection.open(service: member.name)
        let host: ServiceHost
        do {
            let bus = try await busSelection.open(system: settings.system, service: member.name, partitions: settings.partitions,
                                                  retention: settings.retention)
            host = try ServiceHost(member.definition, settings: settings, store: store, bus: bus, logger: logger)
        } catch {
            // A store dropped unclosed is a crash in a debug build (PostgresNIO asserts
            // that every connection was closed): lend crashed so when JetStream did not
            // answer while a node was being killed. Close it, then fail as configured.
            try? await store.close()
            throw error
        }
        host.runtime.logger.info("store and bus opened", metadata: ["store": "\(selection.summary)", "bus": "\(busSelection.summary)"])
        return host
    }

    public init(_ definition: ServiceDefinition, settings: HostSettings, store: any Store, bus: any EventBus, logger: Logger? = nil) throws {
        var log = logger ?? Logger(label: definition.name)
        log[metadataKey: "service"] = "\(definition.name)"
        self.settings = settings
        self.runtime = ServiceRuntime(name: definition.name, store: store, bus: bus, environment: settings.environment, logger: log)
        self.definition = try definition.configured(for: runtime)
        self.health = Health(store: store, bus: bus, startJobs: definition.jobs.filter(\.atStart).count)
        let delaySetting = "\(definition.name.uppercased())_DELAY_MS"
        self.inboundDelay = try InboundDelay(runtime.setting(delaySetting, default: "0"), setting: delaySetting)
        // `MSA_MEMBER` names the replica's slot (``GroupMember``): a restarted replica takes
        // its predecessor's partitions at once instead of after its lease.
        self.member = settings.environment["MSA_MEMBER"].flatMap { $0.isEmpty ? nil : GroupMember.id(slot: $0) }
            ?? "\(definition.name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())"
        for register in self.definition.policies.ports.values { _ = register(runtime) }
        Telemetry.bootstrap()
    }

    /// The service's router: its own routes plus health, metrics and dead-letter admin.
    /// `<SERVICE>_DELAY_MS` holds its own routes only (``InboundDelay``).
    public func router() -> Router<BasicRequestContext> {
        // HEAD answers wherever GET does, with GET's headers and no body.
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: BodyLimitMiddleware())
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: RequestIdentityMiddleware())
        router.add(middleware: MetricsMiddleware())
        health.register(on: router)
        router.get("metrics") { _, _ in try await self.metrics() }
        router.get("admin/dead-letters") { _, _ in
            try JSONResponse.make(.ok, encoding: try await runtime.store.deadLetters(limit: 1000))
        }
        router.post("admin/dead-letters/:id/replay") { _, context in
            let id = try context.parameters.require("id", as: Int64.self)
            guard try await EventConsumer.replay(deadLetter: id, group: definition.name, store: runtime.store, policies: definition.policies)
            else { throw Refusal.notFound("dead letter \(id) does not exist") }
            return try JSONResponse.make(.ok, ["replayed": .number(Double(id))])
        }
        // Hummingbird applies a middleware to the routes added after it: these are the service's.
        if !definition.internalRoutes.isEmpty {
            router.add(middleware: InternalRouteMiddleware(routes: definition.internalRoutes,
                                                           token: InternalRoute.token(in: settings.environment)))
        }
        if let inboundDelay { router.add(middleware: inboundDelay) }
        definition.routes(router, runtime)
        // A path some route serves, with a method none does, is a 405 with `Allow`.
        router.refusingUnservedMethods()
        return router
    }

    private func metrics() async throws -> Response {
        let metrics = ChassisMetrics.shared
        if let backlog = try? await runtime.store.outboxBacklog() { metrics.outboxBacklog(backlog) }
        if !runtime.calls.isEmpty, let pending = try? await runtime.store.all(PendingCall.self) {
            metrics.pendingCalls(sent: pending.count { $0.state == .sent }, undo: pending.count { $0.state == .undo })
        }
        if !definition.policies.isEmpty, let lag = try? await runtime.bus.lag(group: definition.name) {
            for partition in 0..<runtime.bus.partitionCount { metrics.lag(group: definition.name, partition: partition, events: lag[partition] ?? 0) }
        }
        return JSONResponse.make(.ok, data: Data(Telemetry.scrape().utf8), contentType: "text/plain; version=0.0.4")
    }

    /// The background services: the relay, the consumer (if the service has policies),
    /// retention and the service's own jobs.
    public func backgroundServices() -> [any Service] {
        var services: [any Service] = [OutboxRelay(store: runtime.store, bus: runtime.bus, logger: runtime.logger)]
        if !definition.policies.isEmpty {
            let queued = definition.policies.gated.isEmpty ? nil : Doorbell()
            let consumer = EventConsumer(group: definition.name, member: member, store: runtime.store, bus: runtime.bus,
                                         policies: definition.policies, settings: settings.consumer, logger: runtime.logger, queued: queued)
            services.append(consumer)
            if let queued {
                services.append(QueuedEventRunner(group: definition.name, runtime: runtime, policies: definition.policies,
                                                  settings: settings.consumer, owned: { consumer.partitions }, doorbell: queued,
                                                  width: QueuedEventRunner.width(for: definition.policies, runtime: runtime)))
            }
        }
        services.append(RetentionJob(store: runtime.store, bus: runtime.bus, retention: settings.retention, logger: runtime.logger))
        for job in definition.jobs { services.append(JobService(runtime: runtime, job: job, health: health)) }
        // The routes declare the gated calls: call after ``router()``.
        if !runtime.calls.isEmpty { services.append(UndoJob(runtime: runtime)) }
        return services
    }

    /// One round of the queue of gated policies now, as if this member owned every
    /// partition (tests drive it by hand).
    public func runQueuedEvents(asOf now: Int64 = Clock.millis()) async throws {
        let partitions = Set(0..<runtime.bus.partitionCount)
        try await QueuedEventRunner(group: definition.name, runtime: runtime, policies: definition.policies, settings: settings.consumer,
                                    owned: { partitions }, width: QueuedEventRunner.width(for: definition.policies, runtime: runtime))
            .runDue(backoff: UnavailableBackoff(), now: now)
    }

    /// One round of the undo job now (tests drive it by hand): sends the undo of every
    /// gated call due, and returns how many the targets acknowledged.
    @discardableResult
    public func undoPendingCalls() async throws -> Int {
        try await runtime.undoPendingCalls()
    }

    /// Runs the service until SIGTERM or SIGINT, then drains: not ready at once, stop
    /// accepting, finish in-flight requests, finish the event in hand and release leases,
    /// publish what is committed, exit.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let logger = runtime.logger
        let app = Application(
            router: router(),
            server: HTTPEdge.server,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: definition.name),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                logger.info("listening", metadata: ["address": "http://\(settings.host):\(port)"])
                await onListening(port)
            },
            logger: logger)
        let drain = DrainGate(health: health, delay: settings.drainDelay)
        let group = ServiceGroup(configuration: .init(
            services: backgroundServices().map { .init(service: $0) } + [.init(service: app), .init(service: drain)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        try await runtime.store.close()
        logger.info("stopped")
    }
}

/// First to hear graceful shutdown (last in the group): marks the service not ready and
/// waits the drain delay before the listener and the rest shut down.
struct DrainGate: Service {
    let health: Health
    let delay: Duration

    func run() async throws {
        try? await gracefulShutdown()
        health.beginDraining()
        if delay > .zero { try? await LoopTimer.sleep(for: delay) }
    }
}

/// A service's own background job, run until shutdown.
struct JobService: Service {
    let runtime: ServiceRuntime
    let job: ServiceDefinition.Job
    /// Told when a start job is done.
    let health: Health

    /// Runs the job until shutdown. A job that throws (its store unreachable, say) is
    /// logged and started again after a backoff: a failing background job never takes
    /// the service's HTTP side down with it. A job that returns is done (a one-off at
    /// start, productdelivery stocking its shelves): the service runs on without it.
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                do {
                    try await job(runtime)
                    if job.atStart { health.started() }
                    try await gracefulShutdown()
                    return
                } catch is CancellationError {
                    return
                } catch {
                    failures += 1
                    runtime.logger.warning("background job failed, restarting it", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                    try await LoopTimer.sleep(for: Backoff.delay(attempt: failures, base: .milliseconds(200), cap: .seconds(5)))
                }
            }
        }
    }
}

/// Prunes the outbox, the handled-event records and the embedded log every hour.
struct RetentionJob: Service {
    let store: any Store
    let bus: any EventBus
    let retention: Duration
    let logger: Logger

    func run() async throws {
        do { try await prunePeriodically() } catch is CancellationError {}
    }

    private func prunePeriodically() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let report = try await store.prune(olderThan: retention)
                    let events = try await bus.prune(olderThan: retention)
                    if report.outbox + report.handled + events > 0 {
                        logger.info("retention pruned", metadata: ["outbox": "\(report.outbox)", "handled": "\(report.handled)", "events": "\(events)"])
                    }
                } catch {
                    logger.warning("retention failed", metadata: ["error": "\(error)"])
                }
                try await LoopTimer.sleep(for: .seconds(3600))
            }
        }
    }
}
