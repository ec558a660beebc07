import Chassis
import Foundation

/// Hostile input against every endpoint of a running system, through its gateway: what
/// a hostile user sends, not what a client would. It holds when:
/// - no answer is a 5xx (a refusal is the client's fault, never a crash or a 500);
/// - every 4xx has a JSON body with an `error`;
/// - refused requests change nothing: a collection the fuzzer posts to grows by exactly
///   the creations it answered 201 (a variation that is still valid may be created).
///
/// What it sends: for each of the system's samples (a valid request, `{id}` in its path
/// standing for an entity the first sample of its collection creates), the body with each
/// field in turn replaced by hostile values or left out, whole bodies that are not an
/// object or not JSON, and the valid body with odd headers (a `Content-Type` that is not
/// JSON, an 8 KB request id, `Expect: 100-continue`); for each path prefix, methods no
/// route serves or the parser refuses, odd ids, paging, searches, and PATCH, PUT and
/// DELETE on items with the same hostile bodies.
public struct Fuzzer: Sendable {
    /// A valid request of the system, which the fuzzer varies.
    public struct Sample: Sendable {
        public var method: String
        public var path: String
        public var body: JSONValue
        /// The collection a 201 to this request adds one entity to, which the fuzz checks
        /// grew by exactly the 201s it answered: the path itself for a POST to a
        /// collection; nil for a request that adds to none (a look-up, a command on an
        /// entity that exists), whose refusals are checked for their status and JSON.
        public var creates: String?

        public init(_ method: String, _ path: String, _ body: JSONValue) {
            self.init(method, path, body, creates: method == "POST" ? path : nil)
        }

        /// A request at a path of its own that creates in `creates` (`POST /user/reserve`
        /// adds to `/users`), or in nothing.
        public init(_ method: String, _ path: String, _ body: JSONValue, creates: String?) {
            self.method = method
            self.path = path
            self.body = body
            self.creates = creates
        }
    }

    /// One broken promise: the request and what came back.
    public struct Finding: Sendable, CustomStringConvertible {
        public var request: String
        public var answer: String
        public var description: String { "\(request) → \(answer)" }
    }

    public let api: SystemClient
    public let prefixes: [String]
    public let samples: [Sample]

    public init(api: SystemClient, system: SystemDefinition, samples: [Sample]) {
        self.api = api
        self.prefixes = system.services.flatMap(\.pathPrefixes)
        self.samples = samples
    }

    /// Values no field should accept silently, or crash on.
    static let hostileValues: [JSONValue] = [
        .null, "", " ", "1e309", "-1e309", "NaN", "Infinity", "0x4E20", "+5", "1_000", -1, 0, 1e300, -1e300, 3.5, 9.3e18,
        true, .array([]), .object([:]), .array([.object([:])]), .string(String(repeating: "x", count: 100_000)), "\u{0000}",
        "\u{202E}evil", "<script>alert(1)</script>", "'; DROP TABLE x; --", "20211301", "99999999", "😀",
    ]

    /// Bodies that are not an object, not JSON, or not text.
    static let hostileBodies: [Data] = [
        Data(), Data("{".utf8), Data("[]".utf8), Data("null".utf8), Data("1".utf8), Data("\"x\"".utf8), Data(#"{"a":"#.utf8),
        Data(String(repeating: "[", count: 100_000).utf8), Data(#"{"price": 1e309}"#.utf8), Data([0xFF, 0xFE, 0x00, 0x7B]),
        Data("\u{FEFF}{}".utf8), Data(#"{"a": "\ud800"}"#.utf8), Data(#"{"__proto__": {"x": 1}}"#.utf8),
    ]

    /// Methods no route serves, or the parser refuses (`FOO`, `get`). Not `CONNECT`: the
    /// edge answers it with a JSON 405, but an HTTP client built on NIO (this one) drops the
    /// body of any answer to a `CONNECT`; `MethodTests` reads it from a socket instead.
    static let oddMethods = ["OPTIONS", "TRACE", "PROPFIND", "FOO", "get"]

    /// Headers a create must survive: whether it is then created is the service's call.
    static let oddHeaders: [[String: String]] = [
        ["Content-Type": "text/plain"], ["Content-Type": "application/json; charset=ebcdic"], ["Content-Type": "application/xml"],
        ["Accept": "application/xml"], ["X-Request-Id": String(repeating: "x", count: 8_000)], ["X-Forwarded-Host": "evil.example/<x>"],
        ["Expect": "100-continue"],
    ]

    /// Sends everything; the findings, empty when the system held.
    public func run() async throws -> (requests: Int, findings: [Finding]) {
        var findings: [Finding] = []
        var requests = 0
        var ids: [String: Int64] = [:]
        var before: [String: Int64] = [:]
        for sample in samples where sample.method == "POST" {
            if let collection = sample.creates { before[collection] = try await total(collection) }
            let made = try await api.send("POST", sample.path, sample.body)
            if let collection = sample.creates, let id = made.body?["id"]?.int64Value { ids[collection] = id }
        }
        var created: [String: Int64] = [:]
        let creating = Dictionary(samples.compactMap { sample in sample.creates.map { (sample.path, $0) } }) { first, _ in first }
        func check(_ method: String, _ path: String, _ body: Data?, headers: [String: String] = [:]) async throws {
            requests += 1
            let answer = try await api.send(method, path, raw: body, headers: headers)
            let shown = "\(method) \(path) \(body.map { String(decoding: $0.prefix(80), as: UTF8.self) } ?? "")"
                + headers.map { " \($0.key): \($0.value.prefix(40))" }.joined()
            if answer.status >= 500 {
                findings.append(Finding(request: shown, answer: answer.summary))
            } else if answer.status >= 400, answer.body?["error"]?.stringValue == nil {
                findings.append(Finding(request: shown, answer: "a \(answer.status) without a JSON error: \(answer.summary)"))
            } else if answer.status == 201, method == "POST" {
                created[creating[path] ?? path, default: 0] += 1
            }
        }

        for sample in samples {
            let path = resolve(sample.path, ids)
            guard case .object(let fields) = sample.body else { continue }
            for field in fields.keys.sorted() {
                for value in Self.hostileValues {
                    try await check(sample.method, path, try JSON.encode(JSONValue.object(fields.merging([field: value]) { $1 })))
                }
                try await check(sample.method, path, try JSON.encode(JSONValue.object(fields.filter { $0.key != field })))
            }
            for body in Self.hostileBodies { try await check(sample.method, path, body) }
            for headers in Self.oddHeaders { try await check(sample.method, path, try JSON.encode(sample.body), headers: headers) }
        }
        for prefix in prefixes {
            for method in Self.oddMethods {
                for path in [prefix, prefix + "/1", prefix + "/search"] { try await check(method, path, nil) }
            }
            for query in ["?page=-1", "?size=0", "?size=abc", "?size=100000", "?page=99999999999999999999", "?sort=%00", "?customer=%FF",
                          "/abc", "/-1", "/0", "/1.5", "/99999999999999999999", "/%00", "/search/findByNothing", "/search/findByCustomer"] {
                try await check("GET", prefix + query, nil)
            }
            for body in Self.hostileBodies + [Data("{}".utf8)] {
                try await check("POST", prefix, body)
                for method in ["PATCH", "PUT", "DELETE"] { try await check(method, prefix + "/999999", body) }
                if let id = ids[prefix] { try await check("PATCH", "\(prefix)/\(id)", body) }
            }
        }
        for (path, count) in before {
            let now = try await total(path)
            let expected = count + 1 + (created[path] ?? 0)  // the sample itself, and what the fuzz created
            if now != expected {
                findings.append(Finding(request: "GET \(path) after the fuzz", answer: "\(now) entities, expected \(expected): a refused request wrote"))
            }
        }
        return (requests, findings)
    }

    private func resolve(_ path: String, _ ids: [String: Int64]) -> String {
        guard path.contains("{id}"), let prefix = ids.keys.first(where: { path.hasPrefix($0 + "/") }), let id = ids[prefix] else { return path }
        return path.replacingOccurrences(of: "{id}", with: String(id))
    }

    private func total(_ path: String) async throws -> Int64 {
        let answer = try await api.get(path)
        guard let total = answer.body?["page"]?["totalElements"]?.int64Value else { throw StepFailure("GET \(path): \(answer.summary)") }
        return total
    }
}
