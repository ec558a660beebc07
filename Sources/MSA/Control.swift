import ArgumentParser
import AsyncHTTPClient
import Chassis
import Foundation
import ServiceLifecycle

/// The supervisor's control API on loopback, found through `<data>/<system>/supervisor.json`.
struct ControlServer: Sendable {
    let supervisor: Supervisor
    let file: String

    func run() async throws {
        let router = Router()
        router.add(middleware: ErrorMiddleware())
        router.get("ps") { _, _ in try JSONResponse.make(.ok, encoding: await supervisor.status()) }
        router.post("stop/:service") { request, context in
            let abruptly = request.uri.queryParameters["kill"] == "true"
            return try JSONResponse.make(.ok, encoding: await supervisor.stop(service: try processName(context), abruptly: abruptly))
        }
        router.post("start/:service") { request, context in
            let body = try await request.body.collect(upTo: 1 << 16)
            let settings = body.readableBytes == 0 ? [:] : try JSONDecoder().decode([String: String].self, from: Data(body.readableBytesView))
            let names = try await supervisor.start(service: try processName(context), settings: settings)
            let late = await supervisor.awaitReady(names)
            guard late.isEmpty else {
                throw Refusal.unavailable("\(late.joined(separator: ", ")) started but not ready within 30 s", retryAfterSeconds: 5)
            }
            return try JSONResponse.make(.ok, encoding: names)
        }
        let file = self.file
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "msa-control"),
                              onServerRunning: { channel in
                                  let info = ["pid": Int(getpid()), "port": channel.localAddress?.port ?? 0]
                                  try? JSONSerialization.data(withJSONObject: info).write(to: URL(fileURLWithPath: file))
                              },
                              logger: Logger(label: "msa-control", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await app.run()
    }
}

/// The `:service` of a control path: a service (`lend`) or one replica (`lend%232`).
private func processName(_ context: BasicRequestContext) throws -> String {
    let raw = try context.parameters.require("service")
    return raw.removingPercentEncoding ?? raw
}

/// A client of a running supervisor.
struct ControlClient {
    let port: Int

    init(data: DataOption, system: String) throws {
        let file = "\(data.directory(for: system))/supervisor.json"
        guard let bytes = FileManager.default.contents(atPath: file),
              let info = try JSONSerialization.jsonObject(with: bytes) as? [String: Int], let port = info["port"]
        else { throw ValidationError("no running supervisor for \(system) (no \(file)); start one with: msa up \(system)") }
        self.port = port
    }

    /// Calls the control API; a refusal comes back as a ``ValidationError`` with its message.
    func call(_ method: String, _ path: String, body: Data? = nil) async throws -> Data {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/\(path)")
        request.method = .init(rawValue: method)
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 1 << 20)
        let data = Data(buffer.readableBytesView)
        guard response.status == .ok else {
            let message = (try? JSON.parse(data))?["error"]?.stringValue ?? String(decoding: data, as: UTF8.self)
            throw ValidationError("supervisor: \(message)")
        }
        return data
    }

    func processes() async throws -> [Supervisor.Status] {
        try JSONDecoder().decode([Supervisor.Status].self, from: try await call("GET", "ps"))
    }

    /// Stops every replica of `service`; returns when they have exited.
    @discardableResult
    func stop(_ service: String, kill: Bool = false) async throws -> [String] {
        try await act("stop", on: service, query: kill ? "?kill=true" : "")
    }

    /// Starts every replica of `service`, with `settings` over the system's environment;
    /// returns when they answer ready.
    @discardableResult
    func start(_ service: String, settings: [String: String] = [:]) async throws -> [String] {
        try await act("start", on: service, body: settings.isEmpty ? nil : try JSONEncoder().encode(settings))
    }

    /// `POST <action>/<service>`, the name escaped (`lend#2`); the processes acted on.
    private func act(_ action: String, on service: String, query: String = "", body: Data? = nil) async throws -> [String] {
        let name = service.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? service
        return try JSONDecoder().decode([String].self, from: try await call("POST", "\(action)/\(name)\(query)", body: body))
    }

    func gatewayURL() async throws -> String {
        guard let gateway = try await processes().first(where: { $0.service == "gateway" }) else {
            throw ValidationError("the supervisor runs no gateway")
        }
        return "http://127.0.0.1:\(gateway.port)"
    }
}

struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the processes of a running system.")
    @OptionGroup var system: SystemArgument
    @OptionGroup var data: DataOption

    func run() async throws {
        let system = self.system.name
        let rows = try await ControlClient(data: data, system: system).processes()
        // The name column fits the longest name (productdelivery#2), two spaces after it.
        let width = max(14, (rows.map(\.name.count).max() ?? 0) + 2)
        print("NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "PORT   PID      STATE    RESTARTS")
        for row in rows {
            let state = row.running ? "running" : "stopped"
            print(row.name.padding(toLength: width, withPad: " ", startingAt: 0) + String(row.port).padding(toLength: 7, withPad: " ", startingAt: 0)
                  + (row.pid.map(String.init) ?? "-").padding(toLength: 9, withPad: " ", startingAt: 0)
                  + state.padding(toLength: 9, withPad: " ", startingAt: 0) + String(row.restarts))
        }
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a service (all its replicas, or one: lend#2) of a running system; it stays stopped until `msa start`.")
    @OptionGroup var system: SystemArgument
    @Argument var service: String
    @Flag(help: "Kill with SIGKILL, as a crash would, instead of a graceful stop.") var kill = false
    @OptionGroup var data: DataOption

    func run() async throws {
        let system = self.system.name
        let names = try await ControlClient(data: data, system: system).stop(service, kill: kill)
        guard !names.isEmpty else { throw ValidationError("\(system) has no process \(service)") }
        print("stopped \(names.joined(separator: ", "))")
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a stopped service of a running system.",
                                                    discussion: "msa start vaccine reservation --set RESERVATION_DELAY_MS=600-820 starts it slowed, as the seed's overload experiment did; a plain start later drops the setting.")
    @OptionGroup var system: SystemArgument
    @Argument var service: String
    @Option(name: .customLong("set"), help: "KEY=VALUE: a setting for this start (repeatable), over the system's environment.") var settings: [String] = []
    @OptionGroup var data: DataOption

    func run() async throws {
        let system = self.system.name
        var given: [String: String] = [:]
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--set takes KEY=VALUE, not \(setting)") }
            given[parts[0]] = parts[1]
        }
        let names = try await ControlClient(data: data, system: system).start(service, settings: given)
        guard !names.isEmpty else { throw ValidationError("\(system) has no process \(service)") }
        print("started \(names.joined(separator: ", "))")
    }
}
