import ArgumentParser
import Chassis
import Foundation
import Gateway
import NIOCore
import NIOPosix

/// `msa serve <system> <service>`: one service in the foreground, what a container runs.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one service of a system (or its gateway).",
        discussion: """
            Configuration comes from the environment, with working defaults:
              PORT           the port (default: the system's port for the service)
              MSA_HOST       the address to bind (default 127.0.0.1)
              MSA_DATA       the system's data directory (default .msa/<system>)
              MSA_STORE      sqlite (default) or postgres://user:password@host:port/db;
                             each service gets the schema <system>_<service>
              <SERVICE>_STORE the same for one service, e.g. MYPAGE_STORE=sqlite
              MSA_BUS        sqlite (default) or nats://host:4222[,nats://host2:4222…]
              MSA_BUS_REPLICAS copies of each event (default 3 with 3+ servers, else 1)
              MSA_PARTITIONS partitions of a new event log (default 8)
              <SERVICE>_URL  where a called service answers, e.g. PAYMENT_URL
              <SERVICE>_URLS the gateway's replicas of a service, comma-separated
              MSA_THREADS    threads for I/O and handlers (default 1: a system runs
                             many processes, and one thread each switches least)
              MSA_MEMBER     the replica's slot in its consumer group (msa up: lend#2;
                             Kubernetes: a StatefulSet pod's name); a restarted replica
                             takes its partitions at once. Never two live processes
                             with one slot. Unset: a unique member, whose partitions
                             move only when it leaves or its lease expires
                             (1.2 s; MSA_LEASE_TTL_MS)
              MSA_INTERNAL_TOKEN the system's credential for its internal routes
                             (payment's approve and void): sent by every service,
                             required by them; a Secret in production, fresh per
                             `msa up`. Unset: internal routes refuse every caller
              MSA_MAX_BODY_BYTES the largest request body read (default 1048576);
                             a larger one is a 413
              <SERVICE>_DELAY_MS a pause before each of the service's own routes,
                             500 or a range 400-620 (the seeds' slowed services)
              MSA_LOG_LEVEL  trace, debug, info (default), notice, warning, error or
                             critical; debug logs a line per request, trace its body
                             too (personal data the system lists is masked at every
                             level)
            """)

    @OptionGroup var system: SystemArgument
    @Argument(help: "The service, e.g. reserve, or gateway.") var service: String
    @OptionGroup var backing: BackingOptions

    func run() async throws {
        let system = self.system.name
        let definition = try Catalog.system(system)
        // Before anything logs: the system's personal data is masked in every line.
        guard let level = Logs.level(in: ProcessInfo.processInfo.environment) else {
            throw ValidationError("MSA_LOG_LEVEL must be trace, debug, info, notice, warning, error or critical")
        }
        Logs.bootstrap(redactions: definition.redactions, level: level)
        let environment = backing.applied(to: ProcessInfo.processInfo.environment)
        Self.useEventLoopsForConcurrency(threads: environment["MSA_THREADS"].flatMap(Int.init) ?? 1)
        let host = environment["MSA_HOST"] ?? "127.0.0.1"
        if service == "gateway" {
            let port = environment["PORT"].flatMap(Int.init) ?? definition.gatewayPort
            try await GatewayServer.run(system: definition, host: host, port: port, environment: environment)
            return
        }
        guard let member = definition.service(service) else {
            throw ValidationError("\(system) has no service \(service); it has \(definition.services.map(\.name).joined(separator: ", ")), gateway")
        }
        var settings = HostSettings(system: system, port: environment["PORT"].flatMap(Int.init) ?? member.port,
                                    dataDirectory: environment["MSA_DATA"] ?? ".msa/\(system)", environment: environment)
        settings.host = host
        settings.partitions = environment["MSA_PARTITIONS"].flatMap(Int.init) ?? settings.partitions
        if let ttl = environment["MSA_LEASE_TTL_MS"].flatMap(Int.init) { settings.consumer.leaseTTL = .milliseconds(ttl) }
        if let drain = environment["MSA_DRAIN_MS"].flatMap(Int.init) { settings.drainDelay = .milliseconds(drain) }
        try await ServiceHost.open(member, settings: settings).run()
    }
}

extension Serve {
    /// Runs Swift Concurrency's jobs on NIO's event loops, `threads` of them: a request
    /// is read, handled and answered on one thread instead of hopping between NIO's
    /// threads and the concurrency pool (two thread switches a hop). Must run before
    /// anything creates NIO's singleton group.
    ///
    /// Linux only: on Darwin NIO requires the call from the main thread, before any task
    /// runs, which an async command cannot do; there the defaults stay.
    static func useEventLoopsForConcurrency(threads: Int) {
        #if os(Linux)
        NIOSingletons.groupLoopCountSuggestion = max(1, threads)
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        #endif
    }
}

/// `--store` and `--bus`: where services keep their data and exchange events, for `msa
/// up` and `msa serve`; the flags set `MSA_STORE` and `MSA_BUS` for the processes started.
struct BackingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("sqlite (default) or postgres://user:password@host:port/database; sets MSA_STORE.",
                               valueName: "store"))
    var store: String?

    @Option(help: ArgumentHelp("sqlite (default) or NATS JetStream servers, nats://host1:4222,nats://host2:4222; sets MSA_BUS.",
                               valueName: "bus"))
    var bus: String?

    func applied(to environment: [String: String]) -> [String: String] {
        var environment = environment
        if let store { environment["MSA_STORE"] = store }
        if let bus { environment["MSA_BUS"] = bus }
        return environment
    }
}
