import GRDB

/// Statements through the connection's statement cache: each SQL text is compiled once
/// per connection instead of on every call. Compiling is most of the cost of a short
/// statement (GRDB also authorizes every compiled statement), and the store and the log
/// run the same few statements thousands of times a second.
extension Database {
    func execute(cached sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

extension Row {
    static func fetchAll(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Row] {
        try fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    static func fetchOne(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }
}

extension DatabaseValueConvertible where Self: StatementColumnConvertible {
    static func fetchAll(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Self] {
        try fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    static func fetchOne(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> Self? {
        try fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }
}

/// Database access on the calling thread, not by hopping to GRDB's queue and back: a
/// statement takes microseconds and each hop costs two thread switches, more than the work.
extension DatabasePool {
    /// A read of one statement: in WAL mode it never waits for a writer, and SQLite runs a
    /// single statement in a transaction of its own, a consistent snapshot without GRDB's
    /// explicit BEGIN…COMMIT around it.
    func readNow<T>(_ work: (Database) throws -> T) throws -> T {
        try unsafeRead(work)
    }

    /// Statements on the writer connection, outside any transaction GRDB would open: the
    /// caller manages the transaction and must be the only writer of this process.
    func writeNow<T>(_ work: (Database) throws -> T) throws -> T {
        try writeWithoutTransaction(work)
    }
}
