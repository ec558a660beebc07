import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The embedded ``Store``: one SQLite file per service, in WAL mode, shared safely by the
/// replicas of a service on one machine.
///
/// Transactions are `BEGIN IMMEDIATE` on the single writer connection, so they are
/// serializable across processes; within a process an ``AsyncLock`` hands the writer to
/// one transaction at a time, which may suspend (await) inside it. Other processes wait up
/// to the busy timeout for the file's write lock — asynchronously, in ``begin()``: the
/// thread serves HTTP and reads meanwhile. Reads outside transactions use the
/// pool's reader connections and never wait for writers. `synchronous = NORMAL`: a commit
/// survives a killed process (the WAL is written before commit returns) but not
/// necessarily a power loss, which the embedded mode does not promise.
public final class SQLiteStore: Store {
    public let service: String
    public let path: String
    let pool: DatabasePool
    let writer = AsyncLock()
    let outboxBell = Doorbell()
    let busyTimeout: Duration

    /// Opens (creating if needed) and migrates the store at `path`.
    public init(path: String, service: String, busyTimeout: TimeInterval = 10) throws {
        self.service = service
        self.path = path
        self.busyTimeout = .milliseconds(Int64(busyTimeout * 1000))
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        // Why: a transaction spans several awaited statements on the writer; the AsyncLock,
        // not GRDB's per-access check, guarantees it is closed before another one starts.
        config.allowsUnsafeTransactions = true
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        pool = try SharedDatabaseFile.open(path: path, configuration: config, migrator: Self.migrator)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("chassis-v1") { db in
            try db.execute(sql: """
                CREATE TABLE documents (collection TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,
                                        PRIMARY KEY (collection, id)) WITHOUT ROWID;
                CREATE TABLE sequences (collection TEXT PRIMARY KEY, next INTEGER NOT NULL);
                CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, type TEXT NOT NULL,
                                     source TEXT NOT NULL, time INTEGER NOT NULL, key TEXT NOT NULL, traceparent TEXT,
                                     payload TEXT NOT NULL, published_at INTEGER);
                CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
                CREATE TABLE handled (consumer TEXT NOT NULL, event_id TEXT NOT NULL, handled_at INTEGER NOT NULL,
                                      PRIMARY KEY (consumer, event_id)) WITHOUT ROWID;
                CREATE INDEX handled_age ON handled (handled_at);
                CREATE TABLE positions (grp TEXT NOT NULL, part INTEGER NOT NULL, position INTEGER NOT NULL,
                                        PRIMARY KEY (grp, part)) WITHOUT ROWID;
                CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, part INTEGER NOT NULL,
                                           position INTEGER NOT NULL, envelope TEXT NOT NULL, error TEXT NOT NULL,
                                           attempts INTEGER NOT NULL, parked_at INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("chassis-v2-epochs") { db in
            try db.execute(sql: "ALTER TABLE positions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")
        }
        return migrator
    }

    // MARK: Transactions

    public func write<T>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        try await writer.withLock {
            try await begin()
            let result: T
            let transaction = SQLiteTransaction(store: self)
            do {
                result = try await body(transaction)
            } catch {
                rollBack()
                throw error
            }
            do { try uncancellable("COMMIT") } catch {
                rollBack()
                throw error
            }
            if transaction.enqueued.withLock({ $0 }) { await outboxBell.ring() }
            return result
        }
    }

    /// `BEGIN IMMEDIATE`, waiting for another process's write lock (a replica sharing the
    /// file, a tool holding it) without holding the thread: tried without SQLite's busy
    /// wait, which sleeps on the calling thread — with one thread per service (`msa serve`)
    /// that stalled every request of the process, health checks included, while the other
    /// held the lock — and on `SQLITE_BUSY` tried again after a pause on a loop timer (1 ms,
    /// doubling to 16 ms) until the busy timeout, then failing as SQLite's own wait would.
    /// Once begun, the transaction holds the write lock: in WAL mode its statements and
    /// commit wait for no other writer. Not cancellable, like the commit.
    private func begin() async throws {
        let deadline = ContinuousClock.now + busyTimeout
        var pause = Duration.milliseconds(1)
        while true {
            do {
                return try writeNow { db in
                    sqlite3_busy_timeout(db.sqliteConnection, 0)
                    defer { sqlite3_busy_timeout(db.sqliteConnection, CInt(busyTimeout / .milliseconds(1))) }
                    try db.execute(cached: "BEGIN IMMEDIATE")
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                await withCheckedContinuation { resumed in _ = LoopTimer(after: pause) { resumed.resume() } }
                pause = min(pause * 2, .milliseconds(16))
            }
        }
    }

    /// Runs a transaction-control statement. Synchronous, so it runs even when the calling
    /// task was cancelled: leaving the writer inside a transaction would wedge the store.
    private func uncancellable(_ sql: String) throws {
        try writeNow { try $0.execute(cached: sql) }
    }

    /// Ends the transaction in hand without its changes. SQLite may already have rolled it
    /// back by itself (after an I/O error or a full disk), and a ROLLBACK then fails with
    /// "no transaction is active": check first, so the error the caller sees is the one
    /// that ended the transaction.
    private func rollBack() {
        try? writeNow { db in if db.isInsideTransaction { try db.execute(cached: "ROLLBACK") } }
    }

    /// Runs a statement on the writer, inside the transaction the caller holds.
    func onWriter<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try writeNow(work)
    }

    /// Statements run on the calling thread (``DatabasePool/writeNow(_:)``): the writer's
    /// queue is free whenever we get here, since ``writer`` serializes this process's
    /// transactions, and another process's write lock is waited for in ``begin()``.
    private func writeNow<T>(_ work: (Database) throws -> T) throws -> T {
        try pool.writeNow(work)
    }

    private func readNow<T>(_ work: (Database) throws -> T) throws -> T {
        try pool.readNow(work)
    }

    public func waitForOutbox(timeout: Duration) async {
        await outboxBell.wait(timeout: timeout)
    }

    // MARK: Reads

    public func document(_ collection: String, id: Int64) async throws -> Data? {
        try readNow { try SQL.document(collection, id: id, in: $0) }
    }

    public func documents(_ collection: String, _ query: DocumentQuery) async throws -> [StoredDocument] {
        let query = try query.validated()
        return try readNow { try SQL.documents(collection, query, in: $0) }
    }

    public func count(_ collection: String, matching filters: [FieldMatch]) async throws -> Int {
        let query = try DocumentQuery(filters: filters).validated()
        return try readNow { try SQL.count(collection, query.filters, in: $0) }
    }

    /// Every collection that holds a document now, sorted: what a test compares to show
    /// that a refused request changed nothing, whatever the service keeps.
    public func collections() async throws -> [String] {
        try readNow { try String.fetchAll($0, sql: "SELECT DISTINCT collection FROM documents ORDER BY collection") }
    }

    // MARK: Outbox, dead letters, retention

    public func pendingOutbox(limit: Int) async throws -> [OutboxEntry] {
        try readNow { db in
            try Row.fetchAll(cached: db, sql: """
                SELECT seq, event_id, type, source, time, key, traceparent, payload FROM outbox
                WHERE published_at IS NULL ORDER BY seq LIMIT ?
                """, arguments: [limit]).map { row in
                OutboxEntry(sequence: row["seq"], envelope: EventEnvelope(
                    id: row["event_id"], type: row["type"], source: row["source"], time: row["time"], key: row["key"],
                    traceparent: row["traceparent"], payload: Data((row["payload"] as String).utf8)))
            }
        }
    }

    public func markPublished(_ sequences: [Int64]) async throws {
        guard !sequences.isEmpty else { return }
        let now = Clock.millis()
        try await write { _ in
            try await onWriter { db in
                try db.execute(cached: "UPDATE outbox SET published_at = ? WHERE seq IN (\(SQL.placeholders(sequences.count)))",
                               arguments: StatementArguments([now] + sequences))
            }
        }
    }

    public func outboxBacklog() async throws -> Int {
        try readNow { try Int.fetchOne(cached: $0, sql: "SELECT count(*) FROM outbox WHERE published_at IS NULL") ?? 0 }
    }

    public func deadLetters(limit: Int) async throws -> [DeadLetter] {
        try readNow { db in
            try Row.fetchAll(cached: db, sql: "SELECT * FROM dead_letters ORDER BY id LIMIT ?", arguments: [limit]).map(SQL.deadLetter)
        }
    }

    public func prune(olderThan age: Duration) async throws -> PruneReport {
        let cutoff = Clock.millis() - age.wholeMilliseconds
        return try await write { _ in
            try await onWriter { db in
                try db.execute(cached: "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?", arguments: [cutoff])
                let outbox = db.changesCount
                try db.execute(cached: "DELETE FROM handled WHERE handled_at < ?", arguments: [cutoff])
                return PruneReport(outbox: outbox, handled: db.changesCount)
            }
        }
    }

    public func ping() async throws {
        _ = try readNow { try Int.fetchOne(cached: $0, sql: "SELECT 1") }
    }

    public func close() async throws {
        try pool.close()
    }
}

/// A transaction of a ``SQLiteStore``; valid only inside ``SQLiteStore/write(_:)``.
final class SQLiteTransaction: StoreTransaction {
    let store: SQLiteStore
    let enqueued = Mutex(false)
    init(store: SQLiteStore) { self.store = store }
    var service: String { store.service }

    func document(_ collection: String, id: Int64) async throws -> Data? {
        try await store.onWriter { try SQL.document(collection, id: id, in: $0) }
    }

    func documents(_ collection: String, _ query: DocumentQuery) async throws -> [StoredDocument] {
        let query = try query.validated()
        return try await store.onWriter { try SQL.documents(collection, query, in: $0) }
    }

    func count(_ collection: String, matching filters: [FieldMatch]) async throws -> Int {
        let query = try DocumentQuery(filters: filters).validated()
        return try await store.onWriter { try SQL.count(collection, query.filters, in: $0) }
    }

    func put(_ collection: String, id: Int64, body: Data) async throws {
        let text = String(decoding: body, as: UTF8.self)
        try await store.onWriter { db in
            try db.execute(cached: """
                INSERT INTO documents (collection, id, body) VALUES (?, ?, ?)
                ON CONFLICT (collection, id) DO UPDATE SET body = excluded.body
                """, arguments: [collection, id, text])
            // Keep the id sequence ahead of ids chosen by the caller (views keyed by matchId).
            try db.execute(cached: """
                INSERT INTO sequences (collection, next) VALUES (?, ?)
                ON CONFLICT (collection) DO UPDATE SET next = max(next, excluded.next)
                """, arguments: [collection, id])
        }
    }

    func delete(_ collection: String, id: Int64) async throws -> Bool {
        try await store.onWriter { db in
            try db.execute(cached: "DELETE FROM documents WHERE collection = ? AND id = ?", arguments: [collection, id])
            return db.changesCount > 0
        }
    }

    func nextId(_ collection: String) async throws -> Int64 {
        try await store.onWriter { db in
            try Int64.fetchOne(cached: db, sql: """
                INSERT INTO sequences (collection, next) VALUES (?, 1)
                ON CONFLICT (collection) DO UPDATE SET next = next + 1 RETURNING next
                """, arguments: [collection])!
        }
    }

    func enqueue(_ events: [EventEnvelope]) async throws {
        guard !events.isEmpty else { return }
        enqueued.withLock { $0 = true }
        try await store.onWriter { db in
            for e in events {
                try db.execute(cached: """
                    INSERT INTO outbox (event_id, type, source, time, key, traceparent, payload) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [e.id, e.type, e.source, e.time, e.key, e.traceparent, String(decoding: e.payload, as: UTF8.self)])
            }
        }
    }

    func recordHandled(eventId: String, by consumer: String) async throws -> Bool {
        try await store.onWriter { db in
            try db.execute(cached: "INSERT OR IGNORE INTO handled (consumer, event_id, handled_at) VALUES (?, ?, ?)",
                           arguments: [consumer, eventId, Clock.millis()])
            return db.changesCount == 1
        }
    }

    func position(group: String, partition: Int) async throws -> Int64 {
        try await store.onWriter { db in
            try Int64.fetchOne(cached: db, sql: "SELECT position FROM positions WHERE grp = ? AND part = ?",
                               arguments: [group, partition]) ?? 0
        }
    }

    func setPosition(group: String, partition: Int, to position: Int64) async throws {
        try await store.onWriter { db in
            try db.execute(cached: """
                INSERT INTO positions (grp, part, position) VALUES (?, ?, ?)
                ON CONFLICT (grp, part) DO UPDATE SET position = excluded.position
                """, arguments: [group, partition, position])
        }
    }

    func claim(group: String, partition: Int) async throws -> Int64 {
        try await store.onWriter { db in
            try Int64.fetchOne(cached: db, sql: """
                INSERT INTO positions (grp, part, position, epoch) VALUES (?, ?, 0, 1)
                ON CONFLICT (grp, part) DO UPDATE SET epoch = epoch + 1 RETURNING epoch
                """, arguments: [group, partition]) ?? 0
        }
    }

    func epoch(group: String, partition: Int) async throws -> Int64 {
        try await store.onWriter { db in
            try Int64.fetchOne(cached: db, sql: "SELECT epoch FROM positions WHERE grp = ? AND part = ?", arguments: [group, partition]) ?? 0
        }
    }

    func park(_ letter: DeadLetter) async throws {
        let envelope = try JSON.encodeString(letter.envelope)
        try await store.onWriter { db in
            try db.execute(cached: """
                INSERT INTO dead_letters (grp, part, position, envelope, error, attempts, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [letter.group, letter.partition, letter.position, envelope, letter.error, letter.attempts, letter.parkedAt])
        }
    }

    func takeDeadLetter(id: Int64) async throws -> DeadLetter? {
        try await store.onWriter { db in
            guard let row = try Row.fetchOne(cached: db, sql: "SELECT * FROM dead_letters WHERE id = ?", arguments: [id]) else { return nil }
            try db.execute(cached: "DELETE FROM dead_letters WHERE id = ?", arguments: [id])
            return try SQL.deadLetter(row)
        }
    }
}

/// The SQL shared by reads inside and outside transactions.
enum SQL {
    static func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ", ") }

    static func document(_ collection: String, id: Int64, in db: Database) throws -> Data? {
        try String.fetchOne(cached: db, sql: "SELECT body FROM documents WHERE collection = ? AND id = ?",
                            arguments: [collection, id]).map { Data($0.utf8) }
    }

    static func documents(_ collection: String, _ query: DocumentQuery, in db: Database) throws -> [StoredDocument] {
        var (sql, arguments) = whereClause(collection, query.filters)
        if let after = query.afterId {
            sql += " AND id > ?"
            arguments += [after]
        }
        let order = query.sort.isEmpty ? [SortKey("id")] : query.sort + [SortKey("id")]
        sql += " ORDER BY " + order.map { "\(expression($0.field)) \($0.ascending ? "ASC" : "DESC")" }.joined(separator: ", ")
        sql += " LIMIT ? OFFSET ?"
        arguments += [query.limit, query.offset]
        return try Row.fetchAll(cached: db, sql: "SELECT id, body FROM documents WHERE " + sql, arguments: arguments).map {
            StoredDocument(id: $0["id"], body: Data(($0["body"] as String).utf8))
        }
    }

    static func count(_ collection: String, _ filters: [FieldMatch], in db: Database) throws -> Int {
        let (sql, arguments) = whereClause(collection, filters)
        return try Int.fetchOne(cached: db, sql: "SELECT count(*) FROM documents WHERE " + sql, arguments: arguments) ?? 0
    }

    /// Field names were validated as identifiers before they reach here.
    private static func expression(_ field: String) -> String {
        field == "id" ? "id" : "json_extract(body, '$.\(field)')"
    }

    private static func whereClause(_ collection: String, _ filters: [FieldMatch]) -> (String, StatementArguments) {
        var sql = "collection = ?"
        var arguments: StatementArguments = [collection]
        for filter in filters {
            // The query string carries text; the document may hold a number or a boolean.
            var candidates: [any DatabaseValueConvertible] = [filter.value]
            if let int = Int64(filter.value) { candidates.append(int) }
            else if let double = Double(filter.value) { candidates.append(double) }
            if let bool = Bool(filter.value) { candidates.append(bool ? 1 : 0) }
            sql += " AND \(expression(filter.field)) IN (\(placeholders(candidates.count)))"
            arguments += StatementArguments(candidates)
        }
        return (sql, arguments)
    }

    static func deadLetter(_ row: Row) throws -> DeadLetter {
        DeadLetter(id: row["id"], group: row["grp"], partition: row["part"], position: row["position"],
                   envelope: try JSONDecoder().decode(EventEnvelope.self, from: Data((row["envelope"] as String).utf8)),
                   error: row["error"], attempts: row["attempts"], parkedAt: row["parked_at"])
    }
}
