import Foundation
import NIOHTTP1

/// One HTTP request a port sends: what a ``GatedCall`` calls and undoes with, declared
/// as data so the chassis can send it, retry it and send it again after a restart.
public struct Outbound: Sendable {
    let method: HTTPMethod
    public let path: String
    public let body: Data?

    init(_ method: HTTPMethod, _ path: String, _ body: Data?) {
        self.method = method
        self.path = path
        self.body = body
    }

    public static func post<T: Encodable>(_ path: String, _ body: T) throws -> Outbound { .init(.POST, path, try JSON.encode(body)) }
    /// A POST with an empty JSON object (`{}`), as commands such as `/payments/7/void` take.
    public static func post(_ path: String) -> Outbound { .init(.POST, path, Data("{}".utf8)) }
    public static func put<T: Encodable>(_ path: String, _ body: T) throws -> Outbound { .init(.PUT, path, try JSON.encode(body)) }
    public static func patch<T: Encodable>(_ path: String, _ body: T) throws -> Outbound { .init(.PATCH, path, try JSON.encode(body)) }
    public static func delete(_ path: String) -> Outbound { .init(.DELETE, path, nil) }
}
