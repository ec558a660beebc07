import AsyncHTTPClient
import Chassis
import Foundation
import NIOCore

/// One HTTP answer as a scenario sees it: status, headers and the body parsed as JSON
/// (nil when the body is empty or not JSON).
struct Answer: Sendable {
    var status: Int
    var headers: [String: String]
    var body: JSONValue?
    var text: String

    var summary: String { "\(status) \(text.prefix(160))" }
}

/// Calls a system through its gateway, as the seed's `http` commands do.
struct SystemClient: Sendable {
    let base: String
    /// The shared client keeps at most 8 connections per host: right for a scenario,
    /// too few for a benchmark's customers, who each need their own.
    var http: HTTPClient = .shared

    func send(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSON.encode(body)))
        }
        let response = try await http.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        let data = Data(bytes.readableBytesView)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Answer(status: Int(response.status.code), headers: headers, body: try? JSON.parse(data),
                      text: String(decoding: data, as: UTF8.self))
    }

    func get(_ path: String) async throws -> Answer { try await send("GET", path) }
    func post(_ path: String, _ body: JSONValue) async throws -> Answer { try await send("POST", path, body) }
    func patch(_ path: String, _ body: JSONValue) async throws -> Answer { try await send("PATCH", path, body) }
}

/// Why a scenario step failed, in a sentence that names what was expected and what came.
struct StepFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs numbered steps, printing `✓` or `✗` with what each saw; a failed step does not
/// stop the scenario, so one run shows everything that is wrong.
final class ScenarioRunner {
    private(set) var failed = 0
    private(set) var passed = 0
    private var number = 0

    func step(_ title: String, _ body: () async throws -> String) async {
        number += 1
        let started = ContinuousClock.now
        do {
            let detail = try await body()
            passed += 1
            print("✓ \(number). \(title) — \(detail) (\(started.duration(to: .now).wholeMilliseconds) ms)")
        } catch {
            failed += 1
            print("✗ \(number). \(title) — \(error)")
        }
    }
}

/// Checks `answer` has `status`, or fails with what came instead.
func expect(_ answer: Answer, _ status: Int, _ what: String) throws {
    guard answer.status == status else { throw StepFailure("\(what): expected \(status), got \(answer.summary)") }
}

/// Asks `probe` until it returns a value or `timeout` passes; events take a moment to
/// travel, so a step about a view waits for it with a deadline instead of sleeping.
func eventually<T>(_ what: String, timeout: Duration = .seconds(15),
                   _ probe: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if let value = try await probe() { return value }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw StepFailure("\(what) not seen within \(timeout)" + (lastError.map { " (last error: \($0))" } ?? ""))
}
