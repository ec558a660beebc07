import ArgumentParser
import Chassis
import Foundation
import ServiceLifecycle

/// `msa up <system>`: the whole system on this machine, embedded defaults unless
/// `--store` names a PostgreSQL server.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a system's gateway and services as child processes (embedded defaults, or --store and --bus).",
        discussion: """
            Ports: the system's own (rental: gateway 8080, reserve 8081 …
            notification 8086; gamereward: gateway 8080, mission 8081 … mypage 8085;
            vaccine: gateway 8080, user 8081 … dashboard 8085; cafe: gateway 8080,
            order 8081 … deliverycenter 8085; shop: gateway 8088, order 8081 …
            marketing 8083);
            --base-port moves the gateway and the services with it as a block. Extra
            replicas listen 100 ports above the previous one (lend#2 on 8182). Ctrl-C stops
            everything.
            """)

    @OptionGroup var system: SystemArgument
    @OptionGroup var data: DataOption
    @Option(help: "Replicas per service, e.g. lend=2 (repeatable).") var replicas: [String] = []
    @Option(help: "The gateway's port (default: the system's); the services' ports move with it.") var basePort: Int?
    @OptionGroup var backing: BackingOptions

    func run() async throws {
        let system = self.system.name
        let definition = try Catalog.system(system)
        let basePort = self.basePort ?? definition.gatewayPort
        var counts: [String: Int] = [:]
        for entry in replicas {
            let parts = entry.split(separator: "=")
            guard parts.count == 2, let count = Int(parts[1]), count >= 1, definition.service(String(parts[0])) != nil else {
                throw ValidationError("--replicas takes service=count with a service of \(system), got \(entry)")
            }
            counts[String(parts[0])] = count
        }
        var plan: [(name: String, service: String, port: Int)] = []
        for member in definition.services {
            // The definition's ports, moved with --base-port as a block.
            let port = basePort + member.port - definition.gatewayPort
            for replica in 0..<(counts[member.name] ?? 1) {
                plan.append((replica == 0 ? member.name : "\(member.name)#\(replica + 1)", member.name, port + 100 * replica))
            }
        }
        plan.append(("gateway", "gateway", basePort))
        // A taken port would leave a child crashing and restarting forever; say so now.
        let taken = plan.filter { !LoopbackPort.isFree($0.port) }
        guard taken.isEmpty else {
            throw ValidationError("already in use: \(taken.map { "port \($0.port) (\($0.name))" }.joined(separator: ", ")) "
                + "— is another `msa up` running? Stop it, or pick other ports with --base-port.")
        }
        let directory = data.directory(for: system)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let environment = backing.applied(to: ProcessInfo.processInfo.environment)
        // Fail here, once, rather than in every child's restart loop.
        _ = try BusSelection.resolve(dataDirectory: directory, environment: environment)
        if let store = environment["MSA_STORE"], store != "sqlite" {
            for member in definition.services {
                _ = try StoreSelection.resolve(system: definition.name, service: member.name, preference: member.storePreference,
                                               dataDirectory: directory, environment: environment)
            }
        }
        let supervisor = Supervisor(system: definition, dataDirectory: directory, executable: try selfExecutable(), plan: plan,
                                    environment: environment)
        let control = ControlServer(supervisor: supervisor, file: "\(directory)/supervisor.json")
        // Children receive Ctrl-C from the terminal themselves; the supervisor stops them all.
        let stop = SignalWatcher([SIGINT, SIGTERM])
        try await supervisor.startAll()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await control.run() }
            group.addTask {
                let late = await supervisor.awaitReady(await supervisor.names)
                let message = late.isEmpty
                    ? "\(definition.name) is ready: gateway http://127.0.0.1:\(basePort) — try `msa scenario \(definition.name)`"
                    : "not ready after 30 s: \(late.joined(separator: ", "))"
                await supervisor.announce(message)
                // Stays in the group until the control server or the signal task ends it.
                try await LoopTimer.sleep(for: .seconds(365 * 24 * 3600))
            }
            group.addTask {
                await stop.wait()
                await supervisor.shutdown()
            }
            try await group.next()
            group.cancelAll()
        }
        try? FileManager.default.removeItem(atPath: "\(directory)/supervisor.json")
    }

    func selfExecutable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }
}

/// Waits for one of several signals, which it stops from killing the process.
///
/// `@unchecked Sendable` is safe: `sources` is written once in `init` and never read
/// again (it only keeps the dispatch sources alive); the doorbell is an actor.
final class SignalWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let bell = Doorbell()

    init(_ signals: [Int32]) {
        let bell = self.bell
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { Task { await bell.ring() } }
            source.resume()
            return source
        }
    }

    func wait() async {
        await bell.wait(timeout: .seconds(365 * 24 * 3600))
    }
}
