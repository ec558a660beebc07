import Chassis

/// What a seed scenario may do to the running system besides calling it: stop and start
/// a service (every replica of it), as the seeds' demonstrations do. `msa scenario`
/// implements it with the running supervisor.
public protocol SystemControl: Sendable {
    /// Stops every replica of `service`; returns when they have exited.
    func stop(_ service: String) async throws
    /// Starts every replica of `service` with `settings` over the system's environment
    /// (`RESERVATION_DELAY_MS`: the seed's slowed look-up), until it is started again;
    /// returns when they answer ready.
    func start(_ service: String, settings: [String: String]) async throws
}

extension SystemControl {
    /// Starts every replica of `service` as the system configures it.
    public func start(_ service: String) async throws { try await start(service, settings: [:]) }
}

/// A system as the `msa` command drives it: its definition (services, ports, path
/// prefixes, store choices), the seed's scenario and the benchmark's workload. Each
/// system's folder exports one; the CLI's catalog lists them, one line each.
public struct DrivenSystem: Sendable {
    public typealias Scenario = @Sendable (SystemClient, any SystemControl) async -> Bool
    public typealias MakeWorkload = @Sendable (SystemClient, _ clients: Int) -> any Workload

    public let definition: SystemDefinition
    /// Plays the seed's demonstration through the gateway, printing each step ✓ or ✗;
    /// true when every step passed.
    public let scenario: Scenario
    public let workload: MakeWorkload
    /// Other workloads by name, for `msa bench <system> --workload <name>`: a seed's
    /// experiment beside the main flow (vaccine's flood of date look-ups).
    public let experiments: [String: MakeWorkload]
    /// Valid requests of the system, which the ``Fuzzer`` varies (its generic probes of
    /// every path prefix need none).
    public let fuzzSamples: [Fuzzer.Sample]

    public var name: String { definition.name }

    public init(_ definition: SystemDefinition, scenario: @escaping Scenario, workload: @escaping MakeWorkload,
                experiments: [String: MakeWorkload] = [:], fuzzSamples: [Fuzzer.Sample] = []) {
        self.definition = definition
        self.scenario = scenario
        self.workload = workload
        self.experiments = experiments
        self.fuzzSamples = fuzzSamples
    }
}
