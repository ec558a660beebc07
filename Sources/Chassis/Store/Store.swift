import Foundation

/// A service's own database: entity documents, the transactional outbox, the record of
/// handled events, consumer positions and dead letters, all committed together.
///
/// Every implementation (SQLite for one machine, PostgreSQL in production) passes the
/// same conformance suite in `ChassisTesting`, so a service never knows which it runs on.
public protocol Store: DocumentReader {
    /// The service that owns this store; events it publishes carry this as their source.
    var service: String { get }

    /// Runs `body` in one serializable transaction and commits it.
    ///
    /// Everything `body` does — documents written, events enqueued in the outbox, events
    /// recorded as handled, positions and dead letters — commits atomically when it
    /// returns, or is rolled back entirely if it throws (the error is rethrown). The
    /// transaction must not escape `body`, and `body` must not call other services: it
    /// holds the store's write lock.
    func write<T>(_ body: (any StoreTransaction) async throws -> T) async throws -> T

    /// Returns when a transaction that enqueued events committed (in this process, or in
    /// any process where the implementation can tell), or after `timeout`.
    func waitForOutbox(timeout: Duration) async

    /// Committed outbox entries not yet acknowledged by the bus, oldest first.
    func pendingOutbox(limit: Int) async throws -> [OutboxEntry]
    /// Marks outbox entries published; called only after the bus acknowledged them.
    func markPublished(_ sequences: [Int64]) async throws
    /// Marks `sequences` published, then returns the entries still pending, as
    /// ``pendingOutbox(limit:)`` would: the relay's step, which a store may do in one
    /// round trip.
    func markPublished(_ sequences: [Int64], thenPending limit: Int) async throws -> [OutboxEntry]
    /// How many committed events still wait for the relay.
    func outboxBacklog() async throws -> Int

    /// Parked events, oldest first.
    func deadLetters(limit: Int) async throws -> [DeadLetter]

    /// Deletes published outbox rows and handled-event records older than `age`.
    func prune(olderThan age: Duration) async throws -> PruneReport

    /// Succeeds when the database answers; readiness probes call it.
    func ping() async throws
    func close() async throws
}
