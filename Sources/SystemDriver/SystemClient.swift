import AsyncHTTPClient
import Chassis
import Foundation
import NIOCore

/// One HTTP answer as a scenario sees it: status, headers and the body parsed as JSON
/// (nil when the body is empty or not JSON).
public struct Answer: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: JSONValue?
    public var text: String

    public var summary: String { "\(status) \(text.prefix(160))" }
}

/// Calls a system through its gateway, as the seed's `http` commands do.
public struct SystemClient: Sendable {
    public let base: String
    /// The shared client keeps at most 8 connections per host: right for a scenario,
    /// too few for a benchmark's customers, who each need their own.
    public var http: HTTPClient

    public init(base: String, http: HTTPClient = .shared) {
        self.base = base
        self.http = http
    }

    public func send(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> Answer {
        try await send(method, path, raw: try body.map { try JSON.encode($0) })
    }

    /// Sends `raw` as a JSON body byte for byte (malformed on purpose, say), with
    /// `headers` added to, or replacing, the usual ones.
    public func send(_ method: String, _ path: String, raw body: Data?, headers extra: [String: String] = [:]) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        for (name, value) in extra { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await http.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        let data = Data(bytes.readableBytesView)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Answer(status: Int(response.status.code), headers: headers, body: try? JSON.parse(data),
                      text: String(decoding: data, as: UTF8.self))
    }

    public func get(_ path: String) async throws -> Answer { try await send("GET", path) }
    public func post(_ path: String, _ body: JSONValue) async throws -> Answer { try await send("POST", path, body) }
    public func patch(_ path: String, _ body: JSONValue) async throws -> Answer { try await send("PATCH", path, body) }
    public func put(_ path: String, _ body: JSONValue) async throws -> Answer { try await send("PUT", path, body) }
    public func delete(_ path: String) async throws -> Answer { try await send("DELETE", path) }
}


extension Answer {
    /// The entity's `id`, or a ``StepFailure`` saying what came instead.
    public func id() throws -> Int64 {
        guard let id = body?["id"]?.int64Value else { throw StepFailure("no id in \(summary)") }
        return id
    }

    /// The array in the body's `field` (`{"dates": [...]}`), or none.
    public func list(_ field: String) -> [JSONValue] {
        if case .array(let items)? = body?[field] { items } else { [] }
    }

    /// The items of a HAL collection: `_embedded.<name>`.
    public func items(_ name: String) -> [JSONValue] {
        if case .array(let items)? = body?["_embedded"]?[name] { items } else { [] }
    }
}

extension SystemClient {
    /// `page.totalElements` of a collection or search.
    public func total(_ path: String) async throws -> Int64 {
        let answer = try await get(path)
        guard let total = answer.body?["page"]?["totalElements"]?.int64Value else { throw StepFailure("no page total in \(answer.summary)") }
        return total
    }

    /// Waits until `path` shows `value` in `field` (a view catching up, a status following
    /// an event), within ``eventually``'s deadline.
    public func waitFor(_ path: String, _ field: String = "status", _ value: JSONValue) async throws {
        _ = try await eventually("\(field) \(value) at \(path)") { () -> Bool? in
            try await get(path).body?[field] == value ? true : nil
        }
    }
}
