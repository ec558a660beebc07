import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// `postgres://user:password@host:port/database`, as libpq and every PostgreSQL tool write
/// it; `?host=/a/directory` (or an empty host and that parameter) connects through the
/// server's Unix-domain socket in that directory instead, as libpq does — the cheaper way
/// to a server on the same machine.
public struct PostgresURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// The directory of the server's socket (`.s.PGSQL.<port>`), when not over TCP.
    public var socketDirectory: String?

    public struct Invalid: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "invalid PostgreSQL URL: \(reason)" }
    }

    public init(host: String, port: Int = 5432, user: String, password: String?, database: String, socketDirectory: String? = nil) {
        (self.host, self.port, self.user, self.password, self.database) = (host, port, user, password, database)
        self.socketDirectory = socketDirectory
    }

    public init(_ text: String) throws {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql" else {
            throw Invalid(reason: "\(text) does not start with postgres://")
        }
        let hostParameter = url.queryItems?.first { $0.name == "host" }?.value
        if let directory = hostParameter, directory.hasPrefix("/") {
            socketDirectory = directory
            host = url.host ?? ""
        } else {
            guard let host = hostParameter ?? url.host, !host.isEmpty else { throw Invalid(reason: "\(text) names no host") }
            self.host = host
            socketDirectory = nil
        }
        port = url.port ?? 5432
        user = url.user ?? "postgres"
        password = url.password
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? user : path
    }

    /// The same server, another database.
    public func url(database: String) -> String {
        let credentials = user + (password.map { ":\($0)" } ?? "")
        guard let socketDirectory else { return "postgres://\(credentials)@\(host):\(port)/\(database)" }
        return "postgres://\(credentials)@\(host):\(port)/\(database)?host=\(socketDirectory)"
    }

    /// The server's socket file, when not over TCP.
    var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

    /// Where to connect, for messages: `host:port` or the socket's path.
    public var endpoint: String { socketPath ?? "\(host):\(port)" }

    public var connectionConfiguration: PostgresConnection.Configuration {
        if let socketPath {
            return .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
    }

    public var clientConfiguration: PostgresClient.Configuration {
        if let socketPath {
            return .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
    }
}
