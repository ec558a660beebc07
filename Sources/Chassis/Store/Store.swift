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

/// Reads that need no transaction: each call sees a committed snapshot.
public protocol DocumentReader: Sendable {
    func document(_ collection: String, id: Int64) async throws -> Data?
    func documents(_ collection: String, _ query: DocumentQuery) async throws -> [StoredDocument]
    func count(_ collection: String, matching filters: [FieldMatch]) async throws -> Int
}

/// What a transaction can do besides reading. See ``Store/write(_:)`` for its guarantee.
public protocol StoreTransaction: DocumentReader {
    var service: String { get }
    func put(_ collection: String, id: Int64, body: Data) async throws
    @discardableResult func delete(_ collection: String, id: Int64) async throws -> Bool
    /// Reads these documents together, ahead of the `document` calls that follow: a hint
    /// that saves a round trip each on a database across the network (SQLite ignores it).
    func prefetch(_ documents: [(collection: String, id: Int64)]) async throws
    /// Deletes the document if there is one, without saying whether there was: a store
    /// may then defer the write (PostgreSQL sends it with the transaction's other writes).
    func remove(_ collection: String, id: Int64) async throws
    /// The next id of `collection`: above every id committed in it so far.
    func nextId(_ collection: String) async throws -> Int64
    /// Adds events to the outbox; the relay publishes them after this transaction commits.
    func enqueue(_ events: [EventEnvelope]) async throws
    /// Records that `consumer` handled `eventId`; false if it already had (skip the event).
    func recordHandled(eventId: String, by consumer: String) async throws -> Bool
    /// ``recordHandled(eventId:by:)`` for several events at once (one statement on
    /// PostgreSQL): the ids that were new, each once.
    func recordHandled(eventIds: [String], by consumer: String) async throws -> Set<String>
    /// The last position `group` committed for `partition`, or 0.
    func position(group: String, partition: Int) async throws -> Int64
    func setPosition(group: String, partition: Int, to position: Int64) async throws
    func park(_ letter: DeadLetter) async throws
    /// Removes and returns a dead letter (to replay it).
    func takeDeadLetter(id: Int64) async throws -> DeadLetter?
}

public struct StoredDocument: Sendable, Equatable {
    public var id: Int64
    public var body: Data
    public init(id: Int64, body: Data) { self.id = id; self.body = body }
}

/// `field = value`, compared as JSON: `"4"` matches the number 4 and the string "4".
public struct FieldMatch: Sendable, Equatable {
    public var field: String
    public var value: String
    public init(_ field: String, _ value: String) { self.field = field; self.value = value }
}

public struct SortKey: Sendable, Equatable {
    public var field: String
    public var ascending: Bool
    public init(_ field: String, ascending: Bool = true) { self.field = field; self.ascending = ascending }
}

/// A filtered, sorted page of a collection. Field names are checked by the store
/// (letters, digits and `_` only) because they become JSON paths in SQL.
public struct DocumentQuery: Sendable, Equatable {
    public var filters: [FieldMatch]
    public var sort: [SortKey]
    public var offset: Int
    public var limit: Int
    /// Only documents whose id is greater (tailing a collection, e.g. a live stream).
    public var afterId: Int64?

    public init(filters: [FieldMatch] = [], sort: [SortKey] = [], offset: Int = 0, limit: Int = 1000, afterId: Int64? = nil) {
        self.afterId = afterId
        self.filters = filters
        self.sort = sort
        self.offset = offset
        self.limit = limit
    }

    /// Throws a 400 naming the first field that is not a plain identifier.
    public func validated() throws -> DocumentQuery {
        for name in filters.map(\.field) + sort.map(\.field) where !DocumentQuery.isIdentifier(name) {
            throw Refusal.badRequest("\(name) is not a field name", field: name)
        }
        return self
    }

    public static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || CharacterSet.letters.contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || CharacterSet.alphanumerics.contains($0) } && name.count <= 64
    }
}

public struct OutboxEntry: Sendable, Equatable {
    public var sequence: Int64
    public var envelope: EventEnvelope
    public init(sequence: Int64, envelope: EventEnvelope) { self.sequence = sequence; self.envelope = envelope }
}

/// An event a consumer gave up on after its retries, with the error that stopped it.
public struct DeadLetter: Sendable, Codable, Equatable {
    public var id: Int64?
    public var group: String
    public var partition: Int
    public var position: Int64
    public var envelope: EventEnvelope
    public var error: String
    public var attempts: Int
    public var parkedAt: Int64

    public init(id: Int64? = nil, group: String, partition: Int, position: Int64, envelope: EventEnvelope,
                error: String, attempts: Int, parkedAt: Int64 = Clock.millis()) {
        self.id = id
        self.group = group
        self.partition = partition
        self.position = position
        self.envelope = envelope
        self.error = error
        self.attempts = attempts
        self.parkedAt = parkedAt
    }
}

public struct PruneReport: Sendable, Equatable {
    public var outbox: Int
    public var handled: Int
    public init(outbox: Int, handled: Int) { self.outbox = outbox; self.handled = handled }
}

extension Store {
    public func markPublished(_ sequences: [Int64], thenPending limit: Int) async throws -> [OutboxEntry] {
        try await markPublished(sequences)
        return try await pendingOutbox(limit: limit)
    }
}
