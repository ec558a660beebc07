import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// One ``PostgresStore/write(_:)``'s view of its group's transaction; valid only inside
/// `write`. Writes wait in its ``PendingWrites`` (see there); reads see them.
final class PostgresTransaction: StoreTransaction {
    let store: PostgresStore
    let group: WriteGroup
    private let state = Mutex(Member())

    struct Member {
        var pending = PendingWrites()
        /// Taken before this member first sent its own writes while earlier members'
        /// writes were in the transaction, so that a failure undoes only its own.
        var savepoint: String?
        var sentOwn = false
        /// The first statement that failed: the transaction cannot go on without a rollback.
        var serverFailure: (any Error)?
        var nextIds: [String: Int64] = [:]
        var enqueued = false
        /// Documents read ahead by ``prefetch(_:)``: the body, or nil where there is none.
        var prefetched: [PendingWrites.DocumentKey: String?] = [:]
    }

    /// How a member's turn ended.
    enum End {
        case completed
        /// Failed, and left the group as it was.
        case failed(any Error)
        /// Failed, and took the group's transaction down with it.
        case broken(any Error)
    }

    init(store: PostgresStore, group: WriteGroup) {
        self.store = store
        self.group = group
    }

    var service: String { store.service }
    private var t: PostgresStore.Tables { store.tables }

    /// After the body returned (`failure` nil) or threw.
    func finish(failure: (any Error)?) async -> End {
        let member = state.withLock { $0 }
        guard let error = failure ?? member.serverFailure else {
            group.complete(member.pending, nextIds: member.nextIds, enqueued: member.enqueued)
            return .completed
        }
        // Nothing of this member reached the database but ids drawn from sequences (gaps
        // are allowed): dropping its pending writes undoes it.
        if member.serverFailure == nil && !member.sentOwn { return .failed(error) }
        guard let savepoint = member.savepoint else { return .broken(error) }
        do {
            try await store.run(group.connection, PostgresQuery(unsafeSQL: "ROLLBACK TO SAVEPOINT \(savepoint)"))
            return .failed(error)
        } catch {
            return .broken(error)
        }
    }

    /// Sends a statement on the group's connection, remembering a failure.
    private func send(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await remembering { try await store.rows(group.connection, query) }
    }

    private func send<S: PostgresPreparedStatement>(_ statement: S) async throws -> [S.Row] where S.Row: Sendable {
        try await remembering { try await store.rows(group.connection, statement) }
    }

    private func remembering<R>(_ statement: () async throws -> R) async throws -> R {
        do {
            return try await statement()
        } catch {
            state.withLock { if $0.serverFailure == nil { $0.serverFailure = error } }
            throw error
        }
    }

    /// Sends every pending write, the earlier members' and this one's, before a read that
    /// must see them.
    private func sendPending() async throws {
        let earlier = group.takePending()
        if !earlier.isEmpty { _ = try await send(earlier.statement) }
        let own: PendingWrites = state.withLock { member in
            defer { member.pending = PendingWrites() }
            return member.pending
        }
        guard !own.isEmpty else { return }
        _ = try await sendOwn(own.statement)
    }

    /// Sends a write of this member's own, after a savepoint if earlier members wrote in
    /// the transaction, so a failure of this member undoes only its writes.
    private func sendOwn<S: PostgresPreparedStatement>(_ statement: S) async throws -> [S.Row] where S.Row: Sendable {
        if group.members > 0 && state.withLock({ $0.savepoint == nil }) {
            let name = group.newSavepoint()
            _ = try await send(PostgresQuery(unsafeSQL: "SAVEPOINT \(name)"))
            state.withLock { $0.savepoint = name }
        }
        state.withLock { $0.sentOwn = true }
        return try await send(statement)
    }

    /// Any statement, after every pending write: for the store's own maintenance.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await sendPending()
        return try await send(query)
    }

    func execute(_ query: PostgresQuery) async throws {
        _ = try await rows(query)
    }

    // MARK: Documents

    /// A document's pending body (nil: pending deletion), or nil if no write of it is pending.
    private func pendingDocument(_ collection: String, id: Int64) -> String?? {
        let key = PendingWrites.DocumentKey(collection: collection, id: id)
        if let own = state.withLock({ $0.pending.documents[key] }) { return .some(own) }
        return group.pendingDocument(key)
    }

    private func touches(_ collection: String) -> Bool {
        state.withLock { $0.pending.touchedCollections.contains(collection) } || group.touches(collection: collection)
    }

    func prefetch(_ documents: [(collection: String, id: Int64)]) async throws {
        let wanted = documents.filter { pendingDocument($0.collection, id: $0.id) == nil }
        guard wanted.count > 1 else { return }
        let found = try await send(Prepared.Documents(keys: wanted))
        state.withLock { member in
            for key in wanted { member.prefetched[PendingWrites.DocumentKey(collection: key.collection, id: key.id)] = .some(nil) }
            for row in found { member.prefetched[PendingWrites.DocumentKey(collection: row.collection, id: row.id)] = .some(row.body) }
        }
    }

    func document(_ collection: String, id: Int64) async throws -> Data? {
        if let pending = pendingDocument(collection, id: id) { return pending.map { Data($0.utf8) } }
        let key = PendingWrites.DocumentKey(collection: collection, id: id)
        if let prefetched = state.withLock({ $0.prefetched[key] }) { return prefetched.map { Data($0.utf8) } }
        return try await send(Prepared.Document(collection: collection, id: id)).first.map { Data($0.utf8) }
    }

    func documents(_ collection: String, _ query: DocumentQuery) async throws -> [StoredDocument] {
        let query = try query.validated()
        if touches(collection) { try await sendPending() }
        if let whole = Prepared.Collection(collection, query) { return try await send(whole) }
        return try await send(PostgresSQL.documents(t, collection, query)).map(PostgresSQL.storedDocument)
    }

    func count(_ collection: String, matching filters: [FieldMatch]) async throws -> Int {
        let query = try DocumentQuery(filters: filters).validated()
        if touches(collection) { try await sendPending() }
        return try await send(PostgresSQL.count(t, collection, query.filters)).first.map { Int(try $0.decode(Int64.self)) } ?? 0
    }

    func put(_ collection: String, id: Int64, body: Data) async throws {
        // Keep the id sequence ahead of ids chosen by the caller (views keyed by matchId),
        // unless a committed or this transaction's nextId already took it past.
        let covered = store.sequenceCovers(collection, id: id) || (state.withLock { $0.nextIds[collection] } ?? 0) >= id
            || (group.nextIds[collection] ?? 0) >= id
        state.withLock { member in
            member.pending.put(collection, id: id, body: String(decoding: body, as: UTF8.self))
            if !covered { member.pending.sequenceFloors[collection] = max(member.pending.sequenceFloors[collection] ?? 0, id) }
        }
        if !covered { group.sequence(collection, reached: id, read: false) }
    }

    func delete(_ collection: String, id: Int64) async throws -> Bool {
        let existed: Bool
        if let pending = pendingDocument(collection, id: id) {
            existed = pending != nil
        } else {
            existed = try await !send(Prepared.DocumentExists(collection: collection, id: id)).isEmpty
        }
        state.withLock { $0.pending.put(collection, id: id, body: nil) }
        return existed
    }

    func remove(_ collection: String, id: Int64) async throws {
        state.withLock { $0.pending.put(collection, id: id, body: nil) }
    }

    /// From the group's knowledge of the sequence when it has it (the id then waits in
    /// the pending writes as a sequence floor), else from the database.
    func nextId(_ collection: String) async throws -> Int64 {
        let floor = state.withLock { $0.pending.sequenceFloors[collection] ?? 0 }
        if let next = group.handOut(collection, after: floor) {
            state.withLock { member in
                member.nextIds[collection] = max(member.nextIds[collection] ?? 0, next)
                member.pending.sequenceFloors[collection] = max(member.pending.sequenceFloors[collection] ?? 0, next)
            }
            return next
        }
        if floor > 0 || group.raisesSequence(of: collection) { try await sendPending() }
        let next = try await send(Prepared.NextId(collection: collection))[0]
        group.sequence(collection, reached: next, read: true)
        state.withLock { $0.nextIds[collection] = max($0.nextIds[collection] ?? 0, next) }
        return next
    }

    // MARK: Outbox, handled events, positions, dead letters

    func enqueue(_ events: [EventEnvelope]) async throws {
        guard !events.isEmpty else { return }
        state.withLock {
            $0.pending.outbox += events
            $0.enqueued = true
        }
    }

    func recordHandled(eventId: String, by consumer: String) async throws -> Bool {
        try await !recordHandled(eventIds: [eventId], by: consumer).isEmpty
    }

    /// Writers of a schema run one at a time, so a check followed by a pending insert is
    /// as good as an insert that reports a conflict.
    func recordHandled(eventIds: [String], by consumer: String) async throws -> Set<String> {
        func key(_ id: String) -> PendingWrites.HandledKey { PendingWrites.HandledKey(consumer: consumer, eventId: id) }
        let unknown = Set(eventIds.filter { id in
            !state.withLock { $0.pending.handled[key(id)] != nil } && !group.pendingHandled(key(id))
        })
        guard !unknown.isEmpty else { return [] }
        let fresh = unknown.subtracting(try await send(Prepared.Handled(consumer: consumer, eventIds: Array(unknown))))
        let now = Clock.millis()
        state.withLock { member in for id in fresh { member.pending.handled[key(id)] = now } }
        return fresh
    }

    func position(group name: String, partition: Int) async throws -> Int64 {
        let key = PendingWrites.PositionKey(group: name, partition: partition)
        if let pending = state.withLock({ $0.pending.positions[key] }) ?? group.pendingPosition(key) { return pending }
        return try await send(Prepared.Position(group: name, partition: Int32(partition))).first ?? 0
    }

    func setPosition(group name: String, partition: Int, to position: Int64) async throws {
        state.withLock { $0.pending.positions[PendingWrites.PositionKey(group: name, partition: partition)] = position }
    }

    func claim(group name: String, partition: Int) async throws -> Int64 {
        try await sendOwn(Prepared.Claim(group: name, partition: Int32(partition))).first ?? 0
    }

    func epoch(group name: String, partition: Int) async throws -> Int64 {
        try await send(Prepared.Epoch(group: name, partition: Int32(partition))).first ?? 0
    }

    func park(_ letter: DeadLetter) async throws {
        state.withLock { $0.pending.parked.append(letter) }
    }

    func takeDeadLetter(id: Int64) async throws -> DeadLetter? {
        if state.withLock({ $0.pending.takenDeadLetters.contains(id) }) || group.hasTaken(id) { return nil }
        if state.withLock({ !$0.pending.parked.isEmpty }) || group.hasParked { try await sendPending() }
        let letter = try await send("""
            SELECT id, grp, part, position, envelope, error, attempts, parked_at FROM \(unescaped: t.deadLetters) WHERE id = \(id)
            """).first.map(PostgresSQL.deadLetter)
        if letter != nil { state.withLock { $0.pending.takenDeadLetters.append(id) } }
        return letter
    }
}
