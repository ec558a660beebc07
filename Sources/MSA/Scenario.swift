import ArgumentParser
import Foundation

/// `msa scenario <system>`: the seed's demonstration against the running system.
struct Scenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the seed scenario against a running system, step by step (✓/✗; exits 1 on any ✗).",
        discussion: "Needs the system started with `msa up` (same --data), since it stops and starts services.")
    @Argument var system: String
    @OptionGroup var data: DataOption
    @Option(help: "The gateway's URL (default: the running supervisor's gateway).") var gateway: String?

    func run() async throws {
        let control = try ControlClient(data: data, system: system)
        let base: String
        if let gateway { base = gateway } else { base = try await control.gatewayURL() }
        let passed: Bool
        switch system {
        case "rental": passed = await RentalScenario(api: SystemClient(base: base), control: control).perform()
        default: throw ValidationError("no scenario for \(system); known: rental")
        }
        if !passed { throw ExitCode.failure }
    }
}
