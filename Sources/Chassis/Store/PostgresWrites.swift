import Foundation
import PostgresNIO
import Synchronization

/// Writes a ``PostgresStore`` transaction has made but not sent yet.
///
/// Every write a transaction makes whose answer it does not need — a document put or
/// deleted, an event enqueued, a handled record, a position, a dead letter parked or
/// taken — waits here and goes to the database with the others as **one statement**,
/// either at commit or just before a read whose answer they could change. Reads of a
/// single document, a position or a handled record are answered from here when it holds
/// them. On a database a round trip away, this turns a transaction of N writes into one
/// round trip instead of N.
///
/// Later writes of the same key replace earlier ones, so the statement never touches a
/// row twice (which PostgreSQL refuses within one statement); events keep their order.
struct PendingWrites: Sendable {
    struct DocumentKey: Hashable, Sendable { var collection: String; var id: Int64 }
    struct PositionKey: Hashable, Sendable { var group: String; var partition: Int }
    struct HandledKey: Hashable, Sendable { var consumer: String; var eventId: String }

    /// A document's new body (JSON text), or nil where it is deleted.
    var documents: [DocumentKey: String?] = [:]
    /// Collections with a document in `documents`: reads of them must see those first.
    var touchedCollections: Set<String> = []
    /// Ids a collection's id sequence must stay ahead of.
    var sequenceFloors: [String: Int64] = [:]
    var outbox: [EventEnvelope] = []
    var handled: [HandledKey: Int64] = [:]
    var positions: [PositionKey: Int64] = [:]
    var parked: [DeadLetter] = []
    var takenDeadLetters: [Int64] = []

    var isEmpty: Bool {
        documents.isEmpty && sequenceFloors.isEmpty && outbox.isEmpty && handled.isEmpty && positions.isEmpty
            && parked.isEmpty && takenDeadLetters.isEmpty
    }

    mutating func put(_ collection: String, id: Int64, body: String?) {
        documents[DocumentKey(collection: collection, id: id)] = .some(body)
        touchedCollections.insert(collection)
    }

    /// `later`'s writes applied after these.
    mutating func absorb(_ later: PendingWrites) {
        documents.merge(later.documents) { _, new in new }
        touchedCollections.formUnion(later.touchedCollections)
        sequenceFloors.merge(later.sequenceFloors, uniquingKeysWith: max)
        outbox += later.outbox
        handled.merge(later.handled) { old, _ in old }
        positions.merge(later.positions) { _, new in new }
        parked += later.parked
        takenDeadLetters += later.takenDeadLetters
    }

    /// The one statement that applies everything (see ``Apply``).
    var statement: Apply { Apply(writes: self) }

    /// Applies pending writes in one statement: a data-modifying `WITH` part per kind of
    /// write, each over arrays bound as parameters (`unnest`), empty where a kind has
    /// nothing. The text never changes, so it is prepared once per connection like the
    /// statements in ``Prepared``: planning a statement of this size each time cost more
    /// than running it (~80–220 µs against ~170–420 µs, `pg_stat_statements` under the
    /// benchmark), and a part with nothing to do costs little.
    struct Apply: PostgresPreparedStatement {
        static let name = "msa_apply_writes"
        // Deletions find their rows by a probe of the primary key per key (as
        // ``Prepared/Handled`` does), whatever the statistics.
        static let sql = """
            WITH puts AS (INSERT INTO documents (collection, id, body) \
            SELECT c, i, b::jsonb FROM unnest($1::text[], $2::int8[], $3::text[]) AS u(c, i, b) \
            ON CONFLICT (collection, id) DO UPDATE SET body = excluded.body), \
            deletes AS (DELETE FROM documents WHERE ctid = ANY(ARRAY(SELECT d.ctid FROM unnest($4::text[], $5::int8[]) AS u(c, i), \
            LATERAL (SELECT ctid FROM documents WHERE collection = u.c AND id = u.i LIMIT 1) AS d))), \
            floors AS (INSERT INTO sequences (collection, next) SELECT * FROM unnest($6::text[], $7::int8[]) \
            ON CONFLICT (collection) DO UPDATE SET next = GREATEST(sequences.next, excluded.next)), \
            events AS (INSERT INTO outbox (event_id, type, source, time, key, traceparent, payload) \
            SELECT e, y, s, m, k, NULLIF(p, ''), b FROM unnest($8::text[], $9::text[], $10::text[], $11::int8[], $12::text[], \
            $13::text[], $14::text[]) WITH ORDINALITY AS u(e, y, s, m, k, p, b, n) ORDER BY n), \
            handled_now AS (INSERT INTO handled (consumer, event_id, handled_at) \
            SELECT * FROM unnest($15::text[], $16::text[], $17::int8[]) ON CONFLICT DO NOTHING), \
            moved AS (INSERT INTO positions (grp, part, position) SELECT * FROM unnest($18::text[], $19::int4[], $20::int8[]) \
            ON CONFLICT (grp, part) DO UPDATE SET position = excluded.position), \
            parked AS (INSERT INTO dead_letters (grp, part, position, envelope, error, attempts, parked_at) \
            SELECT g, p, o, e, r, a, t FROM unnest($21::text[], $22::int4[], $23::int8[], $24::text[], $25::text[], $26::int4[], \
            $27::int8[]) WITH ORDINALITY AS u(g, p, o, e, r, a, t, n) ORDER BY n), \
            taken AS (DELETE FROM dead_letters WHERE id = ANY($28::int8[])) \
            SELECT 1
            """
        var writes: PendingWrites

        func makeBindings() throws -> PostgresBindings {
            let w = writes
            var binds = PostgresBindings(capacity: 28)
            let puts = w.documents.compactMap { key, body in body.map { (key, $0) } }
            binds.append(puts.map(\.0.collection))
            binds.append(puts.map(\.0.id))
            binds.append(puts.map(\.1))
            let deletes = w.documents.compactMap { key, body in body == nil ? key : nil }
            binds.append(deletes.map(\.collection))
            binds.append(deletes.map(\.id))
            binds.append(Array(w.sequenceFloors.keys))
            binds.append(Array(w.sequenceFloors.values))
            // Rows take their sequence numbers in the order they are inserted: the order enqueued.
            binds.append(w.outbox.map(\.id))
            binds.append(w.outbox.map(\.type))
            binds.append(w.outbox.map(\.source))
            binds.append(w.outbox.map(\.time))
            binds.append(w.outbox.map(\.key))
            binds.append(w.outbox.map { $0.traceparent ?? "" })
            binds.append(w.outbox.map { String(decoding: $0.payload, as: UTF8.self) })
            binds.append(w.handled.keys.map(\.consumer))
            binds.append(w.handled.keys.map(\.eventId))
            binds.append(Array(w.handled.values))
            binds.append(w.positions.keys.map(\.group))
            binds.append(w.positions.keys.map { Int32($0.partition) })
            binds.append(Array(w.positions.values))
            binds.append(w.parked.map(\.group))
            binds.append(w.parked.map { Int32($0.partition) })
            binds.append(w.parked.map(\.position))
            binds.append(try w.parked.map { try JSON.encodeString($0.envelope) })
            binds.append(w.parked.map(\.error))
            binds.append(w.parked.map { Int32($0.attempts) })
            binds.append(w.parked.map(\.parkedAt))
            binds.append(w.takenDeadLetters)
            return binds
        }

        func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
    }
}

/// One PostgreSQL transaction that several ``Store/write(_:)`` calls share, one after
/// another: **group commit**.
///
/// A write that finds others queued behind it does not commit: it passes the writer to
/// the next one and waits for the group's commit, and the last of the group (or the
/// ``PostgresStore/maximumGroup``-th) commits for all. The members still run one at a
/// time, each seeing everything the members before it wrote, so the group is exactly as
/// if each had committed alone — but `BEGIN`, the schema lock, the final write and
/// `COMMIT` (four round trips) are paid once per group instead of once per write.
///
/// A member that fails leaves the group unchanged: its pending writes are dropped, and if
/// it had already sent some (a read needed them first) while earlier members were in the
/// group, it had taken a savepoint before them and rolls back to it. A failure of the
/// database itself (a broken connection, a timeout) fails the whole group: every member
/// waiting for the commit gets the error, and nothing of the group is committed.
final class WriteGroup: Sendable {
    let connection: PostgresConnection
    /// The schema's write-lock version this group's transaction set.
    let version: Int64
    private let state: Mutex<State>

    struct State {
        /// What members that completed have written and not sent yet.
        var pending = PendingWrites()
        /// Members that completed and wait for the commit.
        var members = 0
        var enqueued = false
        var savepoints = 0
        /// The highest id each collection's sequence handed out to completed members.
        var nextIds: [String: Int64] = [:]
        /// For the collections it names, a value at or above the collection's sequence in
        /// this transaction: ids above it are free to hand out without asking the database.
        var sequences: [String: Int64]
        var outcome = Outcome.open([])
    }

    enum Outcome {
        case open([CheckedContinuation<Void, any Error>])
        case settled(Result<Void, any Error>)
    }

    /// `sequences`: what the group may assume of the sequences (see ``State/sequences``).
    init(connection: PostgresConnection, version: Int64, sequences: [String: Int64]) {
        self.connection = connection
        self.version = version
        state = Mutex(State(sequences: sequences))
    }

    var members: Int { state.withLock { $0.members } }
    var enqueued: Bool { state.withLock { $0.enqueued } }
    var nextIds: [String: Int64] { state.withLock { $0.nextIds } }

    func pendingDocument(_ key: PendingWrites.DocumentKey) -> String?? { state.withLock { $0.pending.documents[key] } }
    func pendingPosition(_ key: PendingWrites.PositionKey) -> Int64? { state.withLock { $0.pending.positions[key] } }
    func pendingHandled(_ key: PendingWrites.HandledKey) -> Bool { state.withLock { $0.pending.handled[key] != nil } }
    func touches(collection: String) -> Bool { state.withLock { $0.pending.touchedCollections.contains(collection) } }
    func raisesSequence(of collection: String) -> Bool { state.withLock { $0.pending.sequenceFloors[collection] != nil } }
    var hasParked: Bool { state.withLock { !$0.pending.parked.isEmpty } }
    func hasTaken(_ id: Int64) -> Bool { state.withLock { $0.pending.takenDeadLetters.contains(id) } }

    /// The id after `floor` and after every id the collection's sequence may have reached,
    /// if the group knows that; the member that takes it records it as a sequence floor,
    /// so the database's sequence reaches it on commit. An id handed to a member that
    /// then fails is not handed out again in this group (a gap, as a rollback leaves).
    func handOut(_ collection: String, after floor: Int64) -> Int64? {
        state.withLock { state in
            guard let known = state.sequences[collection] else { return nil }
            let next = max(known, floor) + 1
            state.sequences[collection] = next
            return next
        }
    }

    /// The collection's sequence was read in this transaction (or raised by a put of an
    /// explicit id): it is at `value` now, or above what the group knew.
    func sequence(_ collection: String, reached value: Int64, read: Bool) {
        state.withLock { state in
            if let known = state.sequences[collection] {
                state.sequences[collection] = max(known, value)
            } else if read {
                state.sequences[collection] = value
            }
        }
    }

    var sequences: [String: Int64] { state.withLock { $0.sequences } }

    /// Takes the completed members' pending writes, to send them.
    func takePending() -> PendingWrites {
        state.withLock { state in
            defer { state.pending = PendingWrites() }
            return state.pending
        }
    }

    func newSavepoint() -> String {
        state.withLock { state in
            state.savepoints += 1
            return "member\(state.savepoints)"
        }
    }

    /// A member completed: its writes join the group's.
    func complete(_ writes: PendingWrites, nextIds: [String: Int64], enqueued: Bool) {
        state.withLock { state in
            state.pending.absorb(writes)
            state.nextIds.merge(nextIds, uniquingKeysWith: max)
            state.members += 1
            state.enqueued = state.enqueued || enqueued
        }
    }

    /// Waits until the group committed (or failed).
    func outcome() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let settled: Result<Void, any Error>? = state.withLock { state in
                switch state.outcome {
                case .open(let waiting):
                    state.outcome = .open(waiting + [continuation])
                    return nil
                case .settled(let result):
                    return result
                }
            }
            if let settled { continuation.resume(with: settled) }
        }
    }

    func settle(_ result: Result<Void, any Error>) {
        let waiting: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            guard case .open(let waiting) = state.outcome else { return [] }
            state.outcome = .settled(result)
            return waiting
        }
        for continuation in waiting { continuation.resume(with: result) }
    }
}
