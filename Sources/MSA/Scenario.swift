import ArgumentParser
import Foundation
import SystemDriver

/// `msa scenario <system>`: the seed's demonstration against the running system.
struct Scenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the seed scenario against a running system, step by step (✓/✗; exits 1 on any ✗).",
        discussion: "Needs the system started with `msa up` (same --data), since it stops and starts services.")
    @OptionGroup var system: SystemArgument
    @OptionGroup var data: DataOption
    @Option(help: "The gateway's URL (default: the running supervisor's gateway).") var gateway: String?

    func run() async throws {
        let driven = try Catalog.driven(system.name)
        let control = try ControlClient(data: data, system: driven.name)
        let base: String
        if let gateway { base = gateway } else { base = try await control.gatewayURL() }
        guard await driven.scenario(SystemClient(base: base), SupervisorControl(client: control)) else { throw ExitCode.failure }
    }
}

/// The running supervisor as a scenario's ``SystemControl``.
struct SupervisorControl: SystemControl {
    let client: ControlClient

    func stop(_ service: String) async throws { try await client.stop(service) }
    func start(_ service: String, settings: [String: String]) async throws { try await client.start(service, settings: settings) }
}
