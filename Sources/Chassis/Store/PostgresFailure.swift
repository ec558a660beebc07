import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// An error the database answered with, described by its SQLSTATE and message rather
/// than PostgresNIO's redacted default description.
public struct PostgresFailure: Error, CustomStringConvertible {
    public let sqlState: String?
    public let message: String?
    init(_ error: PSQLError) {
        sqlState = error.serverInfo?[.sqlState]
        message = error.serverInfo?[.message]
    }
    public var description: String { "PostgreSQL error \(sqlState ?? "?"): \(message ?? "no message")" }
}
