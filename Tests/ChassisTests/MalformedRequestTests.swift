import Chassis
import ChassisTesting
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Requests the HTTP parser cannot read get a 400 with a JSON error and a closed
/// connection, like every other error a client can receive (they were empty 400s).
@Suite struct MalformedRequestTests {
    static let requests: [(String, [UInt8])] = [
        ("an unknown method", Array("FOO / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        ("a 300-byte method", Array((String(repeating: "X", count: 300) + " / HTTP/1.1\r\nHost: x\r\n\r\n").utf8)),
        ("a path that is not UTF-8", Array("GET /pay".utf8) + [0xFF] + Array("ments HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        ("a control character in Content-Type",
         Array("POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: app".utf8) + [0x01] + Array("lication/json\r\nContent-Length: 2\r\n\r\n{}".utf8)),
        ("a 100 KB query", Array(("GET /things?" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: x\r\n\r\n").utf8)),
    ]

    @Test(arguments: requests.map(\.0)) func aRequestTheParserCannotReadIsA400WithAJSONError(_ name: String) async throws {
        let bytes = try #require(Self.requests.first { $0.0 == name }?.1)
        let router = Router()
        router.get("things") { _, _ in try JSONResponse.make(.ok, ["things": .array([])]) }
        try await withLiveServer(router) { port in
            let answer = try await RawConnection.exchange(bytes, port: port)
            let (head, _, body) = answer.partition("\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(200))")
            #expect(head.lowercased().contains("connection: close"))
            let json = try JSON.parse(Data(body.utf8))
            #expect(json["error"]?.stringValue?.hasPrefix("malformed HTTP request") == true, "\(body)")
        }
    }
}

extension String {
    /// The text before and after the first `separator`.
    func partition(_ separator: String) -> (String, String, String) {
        guard let range = range(of: separator) else { return (self, "", "") }
        return (String(self[..<range.lowerBound]), separator, String(self[range.upperBound...]))
    }
}
