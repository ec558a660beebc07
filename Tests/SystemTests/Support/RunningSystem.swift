import AsyncHTTPClient
import Chassis
import ChassisTesting
import Foundation
import NIOCore

/// A whole system run by the real `msa up` binary in a temporary data directory on free
/// ports: what a user runs, driven from a test. Every process it starts is stopped by
/// PID when the test ends, however it ends.
struct RunningSystem: Sendable {
    let name: String
    let directory: TemporaryDirectory
    let basePort: Int
    let supervisor: Process
    let log: String

    var gateway: Web { Web(base: "http://127.0.0.1:\(basePort)") }
    var data: String { directory.file("data") }

    /// Runs `body` against `msa up <system>` started with `arguments` and `environment`
    /// added to this process's environment; stops everything afterwards.
    static func with<T>(_ system: String, arguments: [String] = [], environment: [String: String] = [:],
                        _ body: (RunningSystem) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory(prefix: "msa-system")
        let base = try FreePorts.base(offsets: -8..<8, replicaOffsets: arguments.contains("--replicas") ? [0, 100, 200] : [0])
        let log = directory.file("up.log")
        guard FileManager.default.createFile(atPath: log, contents: nil) else { throw SystemFailure("cannot create \(log)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try msaBinary())
        process.arguments = ["up", system, "--data", directory.file("data"), "--base-port", String(base)] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let running = RunningSystem(name: system, directory: directory, basePort: base, supervisor: process, log: log)
        do {
            try await running.waitUntilReady()
            let result = try await body(running)
            await running.stop()
            directory.remove()
            return result
        } catch {
            await running.stop()
            // Keep the directory (and its log) for a look at what went wrong.
            throw SystemFailure("\(error)\n--- \(log) (last lines) ---\n\(running.tail())")
        }
    }

    private func waitUntilReady() async throws {
        try await eventually("\(name) ready (see \(log))", timeout: .seconds(60)) {
            guard supervisor.isRunning else { throw SystemFailure("msa up exited with \(supervisor.terminationStatus)") }
            return logText().contains("\(name) is ready")
        }
    }

    func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    func tail(_ lines: Int = 40) -> String { logText().split(separator: "\n").suffix(lines).joined(separator: "\n") }

    /// Runs another `msa` command against this system (same data directory); returns its
    /// exit status and output.
    func msa(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try msaBinary())
        process.arguments = arguments + ["--data", data]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // Read while it runs: a full pipe would block the child.
        let output = try await Task.detached { try pipe.fileHandleForReading.readToEnd() ?? Data() }.value
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// The supervisor's view of its processes: name → (port, pid).
    func processes() async throws -> [String: (port: Int, pid: Int32?)] {
        let control = try await controlPort()
        let rows = try await Web(base: "http://127.0.0.1:\(control)").get("/ps")
        guard case .array(let items)? = rows.body else { throw SystemFailure("ps answered \(rows.text)") }
        var result: [String: (port: Int, pid: Int32?)] = [:]
        for item in items {
            guard let name = item["name"]?.stringValue, let port = item["port"]?.int64Value else { continue }
            result[name] = (Int(port), item["pid"]?.int64Value.map { Int32($0) })
        }
        return result
    }

    private func controlPort() async throws -> Int {
        let file = "\(data)/\(name)/supervisor.json"
        guard let bytes = FileManager.default.contents(atPath: file), let port = try JSON.parse(bytes)["port"]?.int64Value else {
            throw SystemFailure("no \(file)")
        }
        return Int(port)
    }

    /// A client of one process (`lend`, `lend#2`) on its own port, past the gateway.
    func direct(_ process: String) async throws -> Web {
        guard let port = try await processes()[process]?.port else { throw SystemFailure("no process \(process)") }
        return Web(base: "http://127.0.0.1:\(port)")
    }

    /// SIGKILLs one process, as a crash would; the supervisor restarts it.
    func crash(_ process: String) async throws {
        guard let pid = try await processes()[process]?.pid else { throw SystemFailure("\(process) is not running") }
        kill(pid, SIGKILL)
    }

    /// SIGSTOPs one process: it holds its connections and answers nothing until
    /// ``resume(_:)``, as a process in a long GC pause or on a frozen node would.
    func pause(_ process: String) async throws {
        guard let pid = try await processes()[process]?.pid else { throw SystemFailure("\(process) is not running") }
        kill(pid, SIGSTOP)
    }

    /// SIGCONTs a process ``pause(_:)`` stopped: it handles what waited meanwhile.
    func resume(_ process: String) async throws {
        guard let pid = try await processes()[process]?.pid else { throw SystemFailure("\(process) is not running") }
        kill(pid, SIGCONT)
    }

    /// SIGTERM to the supervisor, which stops its children; SIGKILL to all of them if
    /// that takes longer than 20 s.
    func stop() async {
        let children = (try? await processes().values.compactMap(\.pid)) ?? []
        for pid in children { kill(pid, SIGCONT) }  // a paused child could not hear SIGTERM
        if supervisor.isRunning { kill(supervisor.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(20)
        while supervisor.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if supervisor.isRunning { kill(supervisor.processIdentifier, SIGKILL) }
        for pid in children where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }
}

struct SystemFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The `msa` executable built next to this test bundle (`swift build --build-tests`
/// builds both), or `MSA_BINARY`.
func msaBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["MSA_BINARY"] { return path }
    let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let path = ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("msa")
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw SystemFailure("no msa binary at \(path): build it with `swift build --build-tests`, or set MSA_BINARY")
    }
    return path
}
