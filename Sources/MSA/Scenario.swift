import ArgumentParser
import Foundation

/// `msa scenario <system>`: the seed's demonstration against the running system.
struct Scenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the seed scenario against a running system, step by step.")
    @Argument var system: String
    @OptionGroup var data: DataOption
    @Option(help: "The gateway's URL.") var gateway = "http://127.0.0.1:8080"

    func run() async throws {
        throw ValidationError("scenario for \(system) is not written yet")
    }
}
