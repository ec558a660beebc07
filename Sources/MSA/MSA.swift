import ArgumentParser
import Chassis
import Rental

@main
struct MSA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msa",
        abstract: "Run event-driven microservice systems: up, serve, ps, stop, start, scenario, bench.",
        subcommands: [Up.self, Serve.self, Ps.self, Stop.self, Start.self, Scenario.self, Bench.self])
}

/// The systems this binary knows, by name.
enum Catalog {
    static let systems: [String: SystemDefinition] = ["rental": rentalSystem]

    static func system(_ name: String) throws -> SystemDefinition {
        guard let system = systems[name] else {
            throw ValidationError("unknown system \(name); known: \(systems.keys.sorted().joined(separator: ", "))")
        }
        return system
    }
}

/// Where a system's data and its supervisor's address live: `.msa/<system>` by default.
struct DataOption: ParsableArguments {
    @Option(name: .customLong("data"), help: "Data directory (default .msa in the current directory).")
    var root: String = ".msa"

    func directory(for system: String) -> String { "\(root)/\(system)" }
}
