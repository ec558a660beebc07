import AsyncHTTPClient
import Chassis
import ChassisTesting
import Foundation
import NIOCore
import Testing

/// A body over `MSA_MAX_BODY_BYTES` (1 MiB here) is a 413 with a JSON body, whether its
/// length was announced or not, and nothing is created; what is left of a body nobody
/// reads is drained a bounded amount.
@Suite struct BodyLimitTests {
    /// `{"text": "aaa…"}`, `size` bytes in all.
    static func body(size: Int) -> ByteBuffer {
        let prefix = #"{"text": ""#, suffix = #""}"#
        return ByteBuffer(string: prefix + String(repeating: "a", count: size - prefix.utf8.count - suffix.utf8.count) + suffix)
    }

    @Test(arguments: [false, true]) func aBodyOverTheLimitIs413WithAJSONError(chunked: Bool) async throws {
        try await Notes.withServer { port, store in
            func post(_ body: ByteBuffer) async throws -> (status: Int, json: JSONValue?) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/notes")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = chunked ? .stream(AsyncStream { $0.yield(body); $0.finish() }, length: .unknown) : .bytes(body)
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let data = try await response.body.collect(upTo: 4 << 20)
                return (Int(response.status.code), try? JSON.parse(Data(data.readableBytesView)))
            }
            // 9 MiB: still being sent when the 413 arrives.
            for size in [BodyLimit.bytes + 1, 2 * BodyLimit.bytes, 9 * BodyLimit.bytes] {
                let refused = try await post(Self.body(size: size))
                #expect(refused.status == 413, "\(size) bytes")
                #expect(refused.json?["error"]?.stringValue?.contains("larger than \(BodyLimit.bytes) bytes") == true, "\(String(describing: refused.json))")
            }
            #expect(try await store.count("notes", matching: []) == 0)

            let accepted = try await post(Self.body(size: BodyLimit.bytes))
            #expect(accepted.status == 201, "a body of exactly the limit is read")
        }
    }

    /// A client that writes its whole oversized body before it reads finds the 413, and
    /// its connection still usable once the body is in.
    @Test func aClientThatWritesItsWholeOversizedBodyFindsThe413() async throws {
        try await Notes.withServer { port, _ in
            let connection = try await RawConnection.open(port: port)
            let length = 4 * BodyLimit.bytes
            try await connection.write(Array("POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n".utf8))
            try await connection.write(Array(repeating: UInt8(ascii: "a"), count: length))
            try await connection.write(Array("GET /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            try await connection.waitUntilClosed(within: .seconds(10))
            let (head, _, rest) = connection.received.partition("\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 413"), "\(head)")
            #expect(rest.contains("HTTP/1.1 200"), "the next request on the connection is answered: \(rest.prefix(300))")
        }
    }

    /// A client that never stops sending a body nobody reads (here chunked, to a path no
    /// route serves) gets its answer and is cut off after a bounded drain (issue 11,
    /// finding 3): HummingbirdCore alone read such a body for as long as it came.
    @Test func aBodyThatNeverEndsIsAnsweredAndCutOff() async throws {
        try await Notes.withServer { port, _ in
            let connection = try await RawConnection.open(port: port)
            try await connection.write(Array("POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
            let chunk = Array("10000\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 0x10000) + Array("\r\n".utf8)
            var cutOff = false
            let deadline = ContinuousClock.now + .seconds(20)
            while !cutOff, ContinuousClock.now < deadline {
                do { try await connection.write(chunk) } catch { cutOff = true }
            }
            #expect(cutOff, "the server still read after 20 s")
            let (head, _, body) = connection.received.partition("\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 404"), "\(head)")
            #expect(try JSON.parse(Data(body.utf8))["status"]?.int64Value == 404, "\(body)")
        }
    }
}
