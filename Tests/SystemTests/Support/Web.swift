import AsyncHTTPClient
import Chassis
import Foundation
import NIOCore

/// An HTTP answer: status, headers (lower-cased names), body as JSON when it is JSON.
struct Reply: Sendable {
    var status: Int
    var headers: [String: String]
    var body: JSONValue?
    var text: String

    /// `_embedded.<name>` of a HAL collection.
    func items(_ name: String) -> [JSONValue] {
        if case .array(let items)? = body?["_embedded"]?[name] { items } else { [] }
    }
}

/// A JSON-over-HTTP client for one base URL.
struct Web: Sendable {
    let base: String

    func send(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> Reply {
        try await send(method, path, raw: body.map { ByteBuffer(data: try JSON.encode($0)) })
    }

    /// Sends `raw` as the body, as it is (a body too large, say).
    func send(_ method: String, _ path: String, raw body: ByteBuffer?) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let data = Data(try await response.body.collect(upTo: 16 << 20).readableBytesView)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), headers: headers, body: try? JSON.parse(data),
                     text: String(decoding: data, as: UTF8.self))
    }

    func get(_ path: String) async throws -> Reply { try await send("GET", path) }
    func post(_ path: String, _ body: JSONValue) async throws -> Reply { try await send("POST", path, body) }
    func patch(_ path: String, _ body: JSONValue) async throws -> Reply { try await send("PATCH", path, body) }

    /// The sum of every sample of Prometheus metric `name` whose labels include `labels`
    /// (e.g. `group="lend"`), from this process's `/metrics`.
    func metric(_ name: String, _ labels: String...) async throws -> Double {
        let text = try await get("/metrics").text
        return text.split(separator: "\n").reduce(0) { sum, line in
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "),
                  labels.allSatisfy({ line.contains($0) }),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { return sum }
            return sum + value
        }
    }
}

/// Free TCP ports on loopback: a base such that `base + i + offset` is free for every
/// `i < span` and every offset (replicas listen 100 above).
enum FreePorts {
    /// A gateway port such that every port at `offsets` from it (the services' ports move
    /// with it as a block: below it for shop, whose gateway is 8088 and services 8081–8083)
    /// is free, at each of `replicaOffsets` too.
    ///
    /// The ports come from below the kernel's ephemeral range: a port from inside it can be
    /// handed to an outgoing connection (a service's pool to PostgreSQL, say) between this
    /// check and the service's bind, and the connection holds it for as long as it lives —
    /// a CI run once saw lend fail to bind, again and again, for a whole minute.
    static func base(offsets: Range<Int>, replicaOffsets: [Int]) throws -> Int {
        let span = offsets.upperBound + (replicaOffsets.max() ?? 0)
        let highest = ephemeralStart - span - 1
        for _ in 0..<200 {
            let base = Int.random(in: 10_000...highest)
            let ports = replicaOffsets.flatMap { offset in offsets.map { base + offset + $0 } }
            if ports.allSatisfy(LoopbackPort.isFree) { return base }
        }
        throw SystemFailure("no free port range found")
    }

    /// The first port of Linux's ephemeral range (`ip_local_port_range`), 32768 by default.
    private static let ephemeralStart: Int = {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
              let first = text.split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) }) else { return 32_768 }
        return first
    }()
}

/// A loopback port the test process listens on (with `SO_REUSEADDR`, so the stopped
/// service's connections in TIME_WAIT do not stand in the way) and never answers, until
/// closed.
final class HeldPort: Sendable {
    private let fd: Int32

    init(_ port: Int) throws {
        guard let fd = LoopbackPort.socket(boundTo: port) else { throw SystemFailure("could not bind port \(port)") }
        guard listen(fd, 8) == 0 else {
            _ = Glibc.close(fd)
            throw SystemFailure("could not listen on port \(port)")
        }
        self.fd = fd
    }

    func close() { _ = Glibc.close(fd) }
}
