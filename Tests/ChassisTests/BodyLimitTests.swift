import AsyncHTTPClient
import Chassis
import ChassisTesting
import Foundation
import NIOCore
import Testing

/// A body over `MSA_MAX_BODY_BYTES` (1 MiB here) is a 413 with a JSON body, whether its
/// length was announced or not, and nothing is created.
@Suite struct BodyLimitTests {
    struct Note: Entity {
        static let collection = "notes"
        var id: Int64?
        var text: String
    }

    static let notes = ServiceDefinition(name: "notes") { router, runtime in
        Resource<Note>(store: runtime.store).creating(Note.self) { note, store in
            try await store.write { tx in try await tx.save(note) }
        }.register(on: router)
    }

    /// `{"text": "aaa…"}`, `size` bytes in all.
    static func body(size: Int) -> ByteBuffer {
        let prefix = #"{"text": ""#, suffix = #""}"#
        return ByteBuffer(string: prefix + String(repeating: "a", count: size - prefix.utf8.count - suffix.utf8.count) + suffix)
    }

    @Test(arguments: [false, true]) func aBodyOverTheLimitIs413WithAJSONError(chunked: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let store = try directory.makeSQLiteStore(service: "notes")
            let host = try ServiceHost(Self.notes, settings: HostSettings(system: "test", port: 0, dataDirectory: directory.path, environment: [:]),
                                       store: store, bus: directory.makeSQLiteLog(), logger: quietLogger)
            try await withLiveServer(host.router()) { port in
                func post(_ body: ByteBuffer) async throws -> (status: Int, json: JSONValue?) {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/notes")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = chunked ? .stream(AsyncStream { $0.yield(body); $0.finish() }, length: .unknown) : .bytes(body)
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    let data = try await response.body.collect(upTo: 4 << 20)
                    return (Int(response.status.code), try? JSON.parse(Data(data.readableBytesView)))
                }
                let refused = try await post(Self.body(size: BodyLimit.bytes + 1))
                #expect(refused.status == 413)
                #expect(refused.json?["error"]?.stringValue?.contains("larger than \(BodyLimit.bytes) bytes") == true, "\(String(describing: refused.json))")
                #expect(try await store.count("notes", matching: []) == 0)

                let accepted = try await post(Self.body(size: BodyLimit.bytes))
                #expect(accepted.status == 201, "a body of exactly the limit is read")
            }
            try await store.close()
        }
    }
}
