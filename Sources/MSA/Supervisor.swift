import AsyncHTTPClient
import Chassis
import Foundation
import Synchronization

/// Runs a system's services and gateway as child processes (`msa serve …`), prefixes and
/// streams their logs, restarts a child that exits unexpectedly (``RestartBackoff``:
/// 0.4 s doubling to 5 s while it keeps crashing soon after it starts, 0.4 s again once
/// it stayed up 10 s), and stops them all with SIGTERM — SIGKILL after a grace period —
/// when asked.
actor Supervisor {
    struct Child {
        var name: String        // "lend" or "lend#2"
        var service: String     // "lend" or "gateway"
        var port: Int
        var process: Process?
        var wanted: Bool        // false after `msa stop`: not restarted
        var restarts: Int
        var startedAt: ContinuousClock.Instant?
        var backoff = RestartBackoff()
        /// Settings this child was last started with (`msa start … --set`), over the
        /// system's; kept across its restarts until the next start.
        var settings: [String: String] = [:]
    }

    let system: SystemDefinition
    let dataDirectory: String
    let executable: String
    let baseEnvironment: [String: String]
    private var children: [String: Child] = [:]
    private var order: [String] = []
    private var shuttingDown = false
    private let output = LogPrinter()
    /// A fresh `MSA_INTERNAL_TOKEN` for this run, unless the environment names one.
    private let internalToken = RandomID.uuid() + RandomID.uuid()

    init(system: SystemDefinition, dataDirectory: String, executable: String, plan: [(name: String, service: String, port: Int)],
         environment: [String: String]) {
        self.system = system
        self.dataDirectory = dataDirectory
        self.executable = executable
        self.baseEnvironment = environment
        for entry in plan {
            children[entry.name] = Child(name: entry.name, service: entry.service, port: entry.port, process: nil, wanted: true, restarts: 0)
            order.append(entry.name)
        }
    }

    func startAll() throws {
        for name in order { try launch(name) }
    }

    /// The environment of one child: ports of every service (first replica) for callers,
    /// every replica for the gateway.
    private func environment(for child: Child) -> [String: String] {
        var env = baseEnvironment
        // The member's local-run settings, unless the environment gives its own.
        for (key, value) in system.service(child.service)?.localSettings ?? [:] where env[key] == nil { env[key] = value }
        env.merge(child.settings) { _, given in given }
        env["PORT"] = String(child.port)
        // The system's credential for internal routes: the operator's, or this run's own.
        env[InternalRoute.setting] = InternalRoute.token(in: env) ?? internalToken
        // The replica's slot: its next process takes its partitions at once (GroupMember);
        // safe because a child is started again only after it exited.
        env["MSA_MEMBER"] = child.name
        env["MSA_DATA"] = dataDirectory
        for (name, other) in children where other.service != "gateway" {
            let key = other.service.uppercased()
            let url = "http://127.0.0.1:\(other.port)"
            if name == other.service { env["\(key)_URL"] = url }
            env["\(key)_URLS"] = ((env["\(key)_URLS"].map { [$0] } ?? []) + [url]).joined(separator: ",")
        }
        return env
    }

    private func launch(_ name: String) throws {
        guard var child = children[name], child.process == nil else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", system.name, child.service]
        process.environment = environment(for: child)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let printer = output
        let label = name
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { printer.write(data, from: label) }
        }
        process.terminationHandler = { [weak self] process in
            let status = process.terminationStatus
            Task { await self?.exited(label, status: status) }
        }
        try process.run()
        child.process = process
        child.startedAt = .now
        children[name] = child
        output.line("started \(name) (pid \(process.processIdentifier)) on http://127.0.0.1:\(child.port)", from: "msa")
    }

    private func exited(_ name: String, status: Int32) async {
        guard var child = children[name] else { return }
        child.process = nil
        children[name] = child
        guard child.wanted && !shuttingDown else {
            output.line("\(name) stopped (exit \(status))", from: "msa")
            return
        }
        child.restarts += 1
        let delay = child.backoff.delay(afterRunning: child.startedAt.map { .now - $0 } ?? .zero)
        children[name] = child
        // Its own socket closed with it: a port still taken is another process's (a server,
        // or an outgoing connection given it as its local port), and the child cannot
        // listen until that one lets go of it.
        let taken = LoopbackPort.isFree(child.port) ? "" : "; port \(child.port) is taken by another process"
        output.line("\(name) exited unexpectedly (status \(status))\(taken); restarting in \(delay.wholeMilliseconds) ms", from: "msa")
        try? await LoopTimer.sleep(for: delay)
        guard children[name]?.wanted == true, !shuttingDown else { return }
        try? launch(name)
    }

    /// Stops every replica of `service` (or the one replica named, e.g. `lend#2`) and
    /// keeps it stopped: gracefully with SIGTERM, or with SIGKILL when `abruptly`, as a
    /// crash would (leases are then taken over only when they expire).
    func stop(service: String, abruptly: Bool = false) async -> [String] {
        let names = order.filter { children[$0]?.service == service || $0 == service }
        for name in names { children[name]?.wanted = false }
        await terminate(names, signal: abruptly ? SIGKILL : SIGTERM)
        return names
    }

    /// Starts every replica of `service` (or the one named) that is not running, with
    /// `settings` over the system's environment (`RESERVATION_DELAY_MS`: the seed's slowed
    /// look-up), until it is started again.
    func start(service: String, settings: [String: String] = [:]) throws -> [String] {
        let names = order.filter { children[$0]?.service == service || $0 == service }
        for name in names {
            children[name]?.settings = settings
            children[name]?.wanted = true
            children[name]?.restarts = 0
            children[name]?.backoff.reset()
            try launch(name)
        }
        return names
    }

    /// Waits until each named child answers its readiness probe, up to `timeout`;
    /// returns the names that did not.
    func awaitReady(_ names: [String], timeout: Duration = .seconds(30)) async -> [String] {
        let deadline = ContinuousClock.now + timeout
        var waiting = names
        while !waiting.isEmpty {
            var still: [String] = []
            for name in waiting {
                if let port = children[name]?.port, await Self.answersReady(port: port) { continue }
                still.append(name)
            }
            waiting = still
            guard !waiting.isEmpty, ContinuousClock.now < deadline else { break }
            try? await LoopTimer.sleep(for: .milliseconds(50))
        }
        return waiting
    }

    private static func answersReady(port: Int) async -> Bool {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/actuator/health/readiness")
        return (try? await HTTPClient.shared.execute(request, timeout: .seconds(1)).status) == .ok
    }

    func announce(_ text: String) { output.line(text, from: "msa") }

    /// Every process's name, in start order.
    var names: [String] { order }

    func shutdown() async {
        shuttingDown = true
        await terminate(order.reversed())
    }

    private func terminate(_ names: [String], signal: Int32 = SIGTERM) async {
        let processes = names.compactMap { children[$0]?.process }
        for process in processes where process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + .seconds(15)
        while processes.contains(where: \.isRunning) && ContinuousClock.now < deadline {
            try? await LoopTimer.sleep(for: .milliseconds(20))
        }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for name in names { children[name]?.process = nil }
    }

    struct Status: Codable, Sendable {
        var name: String
        var service: String
        var port: Int
        var pid: Int32?
        var running: Bool
        var restarts: Int
    }

    func status() -> [Status] {
        order.compactMap { name in
            children[name].map { Status(name: name, service: $0.service, port: $0.port, pid: $0.process?.processIdentifier,
                                        running: $0.process?.isRunning ?? false, restarts: $0.restarts) }
        }
    }
}

/// Writes children's output line by line, each prefixed with its service, coloured when
/// the terminal is one.
final class LogPrinter: Sendable {
    private let pending = Mutex<[String: Data]>([:])
    private let colours = isatty(STDOUT_FILENO) == 1
    private let palette = ["\u{1B}[36m", "\u{1B}[33m", "\u{1B}[35m", "\u{1B}[32m", "\u{1B}[34m", "\u{1B}[31m", "\u{1B}[96m", "\u{1B}[93m"]

    func write(_ data: Data, from source: String) {
        let lines: [String] = pending.withLock { buffers in
            var buffer = buffers[source, default: Data()] + data
            var complete: [String] = []
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                complete.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer = Data(buffer[buffer.index(after: newline)...])
            }
            buffers[source] = buffer
            return complete
        }
        for text in lines { line(text, from: source) }
    }

    func line(_ text: String, from source: String) {
        // Never shortened: a name longer than the column (`deliverycenter`) keeps every letter.
        let padded = source.count >= 13 ? source + " " : source.padding(toLength: 13, withPad: " ", startingAt: 0)
        let prefix: String
        if colours {
            let colour = palette[abs(source.hashValue) % palette.count]
            prefix = "\(colour)\(padded)|\u{1B}[0m "
        } else {
            prefix = "\(padded)| "
        }
        FileHandle.standardOutput.write(Data((prefix + text + "\n").utf8))
    }
}
