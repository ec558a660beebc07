import Chassis
import ChassisTesting
import Foundation
import Testing

/// A path some route serves, asked with a method none serves, is a 405 with `Allow` and
/// a JSON error (it was a 404, as if the path did not exist: issue 11, finding 6); a path
/// no route serves stays a JSON 404, whatever the method. `CONNECT` is a JSON 405 (it was
/// an empty 404).
@Suite struct MethodTests {
    static let cases: [(request: String, status: Int, allow: String?)] = [
        ("OPTIONS /notes", 405, "GET, HEAD, POST"),
        ("TRACE /notes/1", 405, "GET, HEAD"),
        ("DELETE /notes", 405, "GET, HEAD, POST"),
        ("PATCH /notes/1", 405, "GET, HEAD"),
        ("DELETE /notes/search", 405, "GET, HEAD"),
        ("PROPFIND /actuator/health", 405, "GET, HEAD"),
        ("OPTIONS /nowhere", 404, nil),
        ("GET /notes/1/nowhere", 404, nil),
        ("CONNECT example.com:443", 405, ""),
    ]

    @Test(arguments: cases.map(\.request)) func aMethodNoRouteServesIs405WithAllow(_ line: String) async throws {
        let expected = try #require(Self.cases.first { $0.request == line })
        try await Notes.withServer { port, _ in
            let answer = try await RawConnection.exchange(Array("\(line) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
            let (head, _, body) = answer.partition("\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 \(expected.status)"), "\(head)")
            let allow = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("allow:") }.map { $0.dropFirst(6).trimmingCharacters(in: .whitespaces) }
            #expect(allow == expected.allow, "\(head)")
            let json = try JSON.parse(Data(body.utf8))
            #expect(json["status"]?.int64Value == Int64(expected.status), "\(body)")
            #expect(json["error"]?.stringValue?.isEmpty == false, "\(body)")
        }
    }
}
