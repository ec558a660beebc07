import ArgumentParser
import Cafe
import Chassis
import GameReward
import Rental
import Shop
import SystemDriver
import Vaccine

@main
struct MSA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msa",
        abstract: "Run event-driven microservice systems: up, serve, ps, stop, start, scenario, bench.",
        subcommands: [Up.self, Serve.self, Ps.self, Stop.self, Start.self, Scenario.self, Bench.self])
}

/// The systems this binary knows: one line each.
enum Catalog {
    static let systems: [DrivenSystem] = [
        rental,
        gameReward,
        vaccine,
        cafe,
        shop,
    ]

    static var names: String { systems.map(\.name).joined(separator: ", ") }

    static func driven(_ name: String) throws -> DrivenSystem {
        guard let system = systems.first(where: { $0.name == name }) else {
            throw ValidationError("unknown system \(name); known: \(names)")
        }
        return system
    }

    static func system(_ name: String) throws -> SystemDefinition { try driven(name).definition }
}

/// The `<system>` argument of every command, with the known systems in its help.
struct SystemArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The system: \(Catalog.names).", valueName: "system")) var name: String
}

/// Where a system's data and its supervisor's address live: `.msa/<system>` by default.
struct DataOption: ParsableArguments {
    @Option(name: .customLong("data"), help: "Data directory (default .msa in the current directory).")
    var root: String = ".msa"

    func directory(for system: String) -> String { "\(root)/\(system)" }
}
