import Foundation
import PostgresNIO

/// A ``PostgresStore``'s outbox as the relay reads and marks it, its dead letters, and
/// the pruning of published events and old handled records.
extension PostgresStore {
    public func pendingOutbox(limit: Int) async throws -> [OutboxEntry] {
        try await read(Prepared.PendingOutbox(limit: Int64(limit)))
    }

    /// One statement from the pool, outside the writer: a group commit of its own would
    /// cost `BEGIN`, the lock and `COMMIT` besides, and the writer's turn. Nothing needs it
    /// serialized with writes: writers insert outbox rows and prune deletes published ones,
    /// and this touches only unpublished rows that are already committed.
    public func markPublished(_ sequences: [Int64]) async throws {
        guard !sequences.isEmpty else { return }
        _ = try await read(Prepared.MarkPublished(time: Clock.millis(), sequences: sequences))
    }

    /// One statement: the marks and the next read of the outbox.
    public func markPublished(_ sequences: [Int64], thenPending limit: Int) async throws -> [OutboxEntry] {
        guard !sequences.isEmpty else { return try await pendingOutbox(limit: limit) }
        return try await read(Prepared.MarkThenPending(time: Clock.millis(), sequences: sequences, limit: Int64(limit)))
    }

    public func outboxBacklog() async throws -> Int {
        try await read("SELECT count(*) FROM \(unescaped: tables.outbox) WHERE published_at IS NULL").first
            .map { Int(try $0.decode(Int64.self)) } ?? 0
    }

    public func deadLetters(limit: Int) async throws -> [DeadLetter] {
        try await read("""
            SELECT id, grp, part, position, envelope, error, attempts, parked_at FROM \(unescaped: tables.deadLetters)
            ORDER BY id LIMIT \(limit)
            """).map(PostgresSQL.deadLetter)
    }

    public func prune(olderThan age: Duration) async throws -> PruneReport {
        let cutoff = Clock.millis() - age.wholeMilliseconds
        return try await write { tx in
            let tx = tx as! PostgresTransaction
            let outbox = try await tx.rows("""
                DELETE FROM \(unescaped: tables.outbox) WHERE published_at IS NOT NULL AND published_at < \(cutoff) RETURNING 1
                """).count
            let handled = try await tx.rows("DELETE FROM \(unescaped: tables.handled) WHERE handled_at < \(cutoff) RETURNING 1").count
            return PruneReport(outbox: outbox, handled: handled)
        }
    }
}
