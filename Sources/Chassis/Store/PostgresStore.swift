import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The production ``Store``: a service's tables in a PostgreSQL schema of its own (a
/// database per service works the same: point each service at its own database).
///
/// **Writes** are serialized as SQLite's are, so both engines give the same guarantee:
/// within a process an ``AsyncLock`` hands the writer connection to one ``write(_:)`` at a
/// time, and across processes (replicas of a service sharing the schema) the transaction
/// first updates the schema's one `write_lock` row, which holds the others off until it
/// ends. Every write therefore runs alone: serializable without retries, and outbox
/// sequences are handed out in commit order, which the relay relies on. Per-document
/// concurrency would need `SERIALIZABLE` isolation and bodies that can run twice, which
/// ``Store/write(_:)`` does not ask of its callers (an experiment with it gained nothing;
/// see `docs/benchmarks.md`).
///
/// What makes writing one at a time fast is counting statements — each is a round trip
/// (~0.2–0.5 ms on a loaded machine) and CPU in the service, the kernel and the server:
/// - a write's blind writes wait in ``PendingWrites`` and go as one statement;
/// - writes that queue up share one transaction (``WriteGroup``, group commit), so
///   `BEGIN`, the lock and `COMMIT` are paid once for many;
/// - the lock row carries a version every transaction bumps: a transaction that finds the
///   version this process's last commit left knows the id sequences as that commit left
///   them, and hands out ids without a statement each (``nextId(_:)`` in
///   ``PostgresTransaction``); the ids still reach the `sequences` table with its writes.
///   A replica that wrote in between makes the next transaction ask the database again;
/// - ``markPublished(_:)`` is one statement outside the writer;
/// - the statements run per request or event are prepared once per connection
///   (``Prepared``), and ``StoreTransaction/prefetch(_:)`` and
///   ``StoreTransaction/remove(_:id:)`` let a service save the rest.
/// (Variants measured and not kept: `docs/benchmarks.md`.)
///
/// A `?host=/directory` URL connects through the server's Unix-domain socket
/// (``PostgresURL``).
///
/// **Reads** outside transactions use a pooled `PostgresClient`; each sees a committed
/// snapshot.
///
/// **Outages**: every operation is bounded by `operationTimeout`. While the database
/// cannot be reached, operations fail with ``Refusal/unavailable(_:retryAfterSeconds:)``
/// (a 503 with `Retry-After` at the API, a retry for consumers and the relay) and
/// ``ping()`` fails, so the service reports not ready. A broken writer connection is
/// dropped and opened again by the next write, and the pool reconnects by itself: the
/// service recovers when the database is back, without a restart.
public final class PostgresStore: Store {
    public let service: String
    public let schema: String
    let client: PostgresClient
    let configuration: PostgresConnection.Configuration
    let operationTimeout: Duration
    let logger: Logger
    let tables: Tables
    let writer = AsyncLock()
    let outboxBell = Doorbell()
    /// The connection transactions run on; only touched while holding ``writer``.
    private let writerConnection = Mutex<PostgresConnection?>(nil)
    /// The group commit writes join; only touched while holding ``writer``.
    private let currentGroup = Mutex<WriteGroup?>(nil)
    private let committedNextIds = Mutex<[String: Int64]>([:])
    /// The id sequences as this process's last commit left them, and the write-lock
    /// version it set. A group that finds the schema's version one below its own (no other
    /// process wrote in between) hands out ids from here without a statement each.
    private let sequenceCache = Mutex<(version: Int64, sequences: [String: Int64])?>(nil)
    private let runner: Task<Void, Never>

    /// Connects to `url` (`postgres://user:password@host:port/database`), creating the
    /// schema `schema` and its tables if needed.
    public init(url: String, schema: String, service: String, operationTimeout: Duration = .seconds(5),
                logger: Logger = Logger(label: "postgres")) async throws {
        guard DocumentQuery.isIdentifier(schema) else { throw PostgresURL.Invalid(reason: "\(schema) is not a schema name") }
        self.service = service
        self.schema = schema
        self.operationTimeout = operationTimeout
        self.logger = logger
        tables = Tables(schema: schema)
        let target = try PostgresURL(url)
        var connection = target.connectionConfiguration
        connection.options.connectTimeout = TimeAmount(min(operationTimeout, .seconds(2)))
        connection.options.additionalStartupParameters = Self.sessionParameters(schema: schema)
        configuration = connection
        var pool = target.clientConfiguration
        pool.options.connectTimeout = min(operationTimeout, .seconds(2))
        pool.options.additionalStartupParameters = Self.sessionParameters(schema: schema)
        pool.options.maximumConnections = 8
        pool.options.keepAliveBehavior = .init(frequency: .seconds(10))
        // The pool reports every failed reconnection attempt at info level, several a
        // second during an outage; the store's own refusals and readiness tell that story.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .warning)
        let client = PostgresClient(configuration: pool, backgroundLogger: poolLogger)
        self.client = client
        runner = Task { await client.run() }
        do {
            try await migrate()
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Every connection's settings:
    /// - prepared statements name tables without their schema (`search_path`);
    /// - each uses one generic plan, made at its first execution on the connection
    ///   (`plan_cache_mode`): PostgreSQL would otherwise plan some of them (those that
    ///   probe per element of an array) anew on every execution, ~50 µs each;
    /// - no sequential scan where an index serves (`enable_seqscan`): that first execution
    ///   often meets empty tables, where a scan is cheapest, and the plan stays as the
    ///   table grows — a deletion planned so scanned all documents on every commit. Every
    ///   statement the store runs has an index to use; the ad hoc queries with filters
    ///   read a collection through the primary key instead of the whole table.
    /// ``Prepared`` and ``PendingWrites/Apply`` are written so that their generic plans
    /// probe the primary key whatever the statistics; a test checks the plans, made on
    /// empty tables and on full ones.
    static func sessionParameters(schema: String) -> [(String, String)] {
        [("search_path", "\"\(schema)\""), ("plan_cache_mode", "force_generic_plan"), ("enable_seqscan", "off")]
    }

    struct Tables: Sendable {
        let documents, sequences, outbox, handled, positions, deadLetters, writeLock: String
        init(schema: String) {
            func name(_ table: String) -> String { "\"\(schema)\".\(table)" }
            (documents, sequences, outbox, handled, positions, deadLetters, writeLock) =
                (name("documents"), name("sequences"), name("outbox"), name("handled"), name("positions"), name("dead_letters"),
                 name("write_lock"))
        }
    }

    // MARK: Transactions

    /// How many writes one group commit may hold at most: a bound on how long the first of
    /// a group waits for the others (each is a few round trips).
    static let maximumGroup = 16

    public func write<T>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        await writer.lock()
        let group: WriteGroup
        do { group = try await openGroup() } catch {
            await writer.unlock()
            throw error
        }
        let transaction = PostgresTransaction(store: self, group: group)
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body(transaction)) } catch { outcome = .failure(error) }
        var failure: (any Error)? { if case .failure(let error) = outcome { error } else { nil } }
        switch await transaction.finish(failure: failure) {
        case .completed:
            try await endTurn(group, waitForCommit: true)
            return try outcome.get()
        case .failed(let error):
            try? await endTurn(group, waitForCommit: false)
            throw error
        case .broken(let error):
            await abandon(group, because: error)
            await writer.unlock()
            throw error
        }
    }

    /// The open group commit, or a new one: `BEGIN` and the schema's write lock, so
    /// replicas of the service sharing the schema write one at a time too. Only called
    /// while holding ``writer``.
    private func openGroup() async throws -> WriteGroup {
        if let open = currentGroup.withLock({ $0 }) { return open }
        let connection = try await openWriter()
        let version: Int64
        do {
            try await run(connection, "BEGIN")
            version = try await rows(connection, Prepared.WriteLock())[0]
        } catch {
            dropWriter(connection)
            throw error
        }
        let known = sequenceCache.withLock { cache in cache.flatMap { $0.version == version - 1 ? $0.sequences : nil } }
        let group = WriteGroup(connection: connection, version: version, sequences: known ?? [:])
        currentGroup.withLock { $0 = group }
        return group
    }

    /// Ends a member's turn: passes the writer to the next write in line, which joins the
    /// group, or — with nobody waiting or the group full — commits the group. A member that
    /// completed returns only once its group committed.
    private func endTurn(_ group: WriteGroup, waitForCommit: Bool) async throws {
        if group.members < Self.maximumGroup, await writer.handOff() {
            if waitForCommit { try await group.outcome() }
            return
        }
        do { try await commit(group) } catch {
            await writer.unlock()
            throw error
        }
        await writer.unlock()
    }

    /// Sends the group's pending writes and commits; every waiting member learns the outcome.
    private func commit(_ group: WriteGroup) async throws {
        let connection = group.connection
        do {
            let pending = group.takePending()
            if !pending.isEmpty { _ = try await rows(connection, pending.statement) }
            try await run(connection, "COMMIT")
        } catch {
            await abandon(group, because: error)
            throw error
        }
        currentGroup.withLock { $0 = nil }
        sequenceCache.withLock { $0 = (group.version, group.sequences) }
        let handedOut = group.nextIds
        if !handedOut.isEmpty { committedNextIds.withLock { $0.merge(handedOut, uniquingKeysWith: max) } }
        group.settle(.success(()))
        if group.enqueued { await outboxBell.ring() }
    }

    /// Rolls a failed group back; the members waiting for its commit get a 503 to retry.
    private func abandon(_ group: WriteGroup, because error: any Error) async {
        await rollBack(group.connection)
        currentGroup.withLock { $0 = nil }
        let refusal = error as? Refusal
            ?? Refusal.unavailable("a write this one was committed with failed (\(error)); nothing was committed", retryAfterSeconds: 1)
        group.settle(.failure(refusal))
    }

    /// The highest id each collection's sequence is known to have reached in committed
    /// state: a put of an id at or below it need not raise the sequence.
    func sequenceCovers(_ collection: String, id: Int64) -> Bool {
        committedNextIds.withLock { ($0[collection] ?? 0) >= id }
    }

    /// The writer connection, opened (again) if there is none or the last one broke.
    func openWriter() async throws -> PostgresConnection {
        if let open = writerConnection.withLock({ $0 }), !open.isClosed { return open }
        do {
            let fresh = try await bounded("connect", late: { try? await $0.close() }) { [configuration, logger] in
                try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            }
            writerConnection.withLock { $0 = fresh }
            return fresh
        }
    }

    private func dropWriter(_ connection: PostgresConnection) {
        writerConnection.withLock { if $0 === connection { $0 = nil } }
        Task { try? await connection.close() }
    }

    /// Ends the transaction without its changes; a connection that cannot even roll back
    /// is dropped, which rolls back on the server.
    func rollBack(_ connection: PostgresConnection) async {
        if connection.isClosed { return dropWriter(connection) }
        do { try await run(connection, "ROLLBACK") } catch { dropWriter(connection) }
    }

    /// Runs a statement on the writer connection, within the operation timeout; a timeout
    /// or a connection failure drops the connection (the server rolls its transaction back).
    func run(_ connection: PostgresConnection, _ query: PostgresQuery) async throws {
        _ = try await rows(connection, query)
    }

    func rows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [PostgresRow] {
        try await onWriter(connection) { [logger] in try await connection.query(query, logger: logger).collect() }
    }

    /// A prepared statement on the writer connection, bounded and failing like a query.
    func rows<S: PostgresPreparedStatement>(_ connection: PostgresConnection, _ statement: S) async throws -> [S.Row]
    where S.Row: Sendable {
        try await onWriter(connection) { [logger] in try await Self.collect(connection.execute(statement, logger: logger)) }
    }

    /// Each statement runs in a task of its own (``bounded(_:_:)``), which the caller's
    /// cancellation does not reach: a consumer being stopped does not cut a statement off
    /// halfway through the connection's protocol. Running statements in the caller's task
    /// instead, with a timer closing the connection at the deadline, saved no measurable
    /// time and was reverted: with it the chassis tests hung 3 times in about 100 runs,
    /// always in tests that cancel consumers (see `docs/benchmarks.md`).
    private func onWriter<R: Sendable>(_ connection: PostgresConnection, _ operation: @escaping @Sendable () async throws -> R) async throws -> R {
        do {
            return try await bounded("query", operation)
        } catch {
            if error is Refusal || connection.isClosed { dropWriter(connection) }
            throw error
        }
    }

    /// Reads outside transactions, from the pool.
    func read(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await bounded("query") { [client, logger] in try await client.query(query, logger: logger).collect() }
    }

    func read<S: PostgresPreparedStatement>(_ statement: S) async throws -> [S.Row] where S.Row: Sendable {
        try await bounded("query") { [client, logger] in try await Self.collect(client.execute(statement, logger: logger)) }
    }

    private static func collect<Rows: AsyncSequence>(_ rows: Rows) async throws -> [Rows.Element] {
        var collected: [Rows.Element] = []
        for try await row in rows { collected.append(row) }
        return collected
    }

    /// Runs `operation` for at most ``operationTimeout``; a timeout or an unreachable
    /// database is a ``Refusal/unavailable(_:retryAfterSeconds:)``. Errors the database
    /// answered with (a constraint, a syntax error) pass through unchanged.
    private func bounded<R: Sendable>(_ what: String, late: (@Sendable (R) async -> Void)? = nil,
                                      _ operation: @escaping @Sendable () async throws -> R) async throws -> R {
        let timeout = operationTimeout
        do {
            guard let result = try await LoopTimer.withTimeout(timeout, late: late, operation) else {
                throw Refusal.unavailable("the database did not answer within \(timeout) (\(what))", retryAfterSeconds: 1)
            }
            return result
        } catch let error as PSQLError where error.serverInfo == nil {
            throw Refusal.unavailable("the database is unreachable (\(error.code))", retryAfterSeconds: 1)
        } catch let error as PSQLError {
            throw PostgresFailure(error)
        }
    }

    public func waitForOutbox(timeout: Duration) async {
        await outboxBell.wait(timeout: timeout)
    }

    // MARK: Reads

    public func document(_ collection: String, id: Int64) async throws -> Data? {
        try await read(Prepared.Document(collection: collection, id: id)).first.map { Data($0.utf8) }
    }

    public func documents(_ collection: String, _ query: DocumentQuery) async throws -> [StoredDocument] {
        if let whole = Prepared.Collection(collection, query) { return try await read(whole) }
        return try await read(PostgresSQL.documents(tables, collection, query.validated())).map(PostgresSQL.storedDocument)
    }

    public func count(_ collection: String, matching filters: [FieldMatch]) async throws -> Int {
        let query = try DocumentQuery(filters: filters).validated()
        return try await read(PostgresSQL.count(tables, collection, query.filters)).first.map { Int(try $0.decode(Int64.self)) } ?? 0
    }

    public func ping() async throws {
        _ = try await read("SELECT 1")
    }

    /// Removes the schema and everything in it, then closes the store: for tests, and
    /// for resetting a local run.
    public func dropSchemaAndClose() async throws {
        try await write { tx in
            try await (tx as! PostgresTransaction).execute("DROP SCHEMA \(unescaped: "\"\(schema)\"") CASCADE")
        }
        try await close()
    }

    public func close() async throws {
        await writer.lock()
        // Members of an open group wait for its commit.
        if let open = currentGroup.withLock({ $0 }) { try? await commit(open) }
        if let connection = writerConnection.withLock({ $0 }) { try? await connection.close() }
        writerConnection.withLock { $0 = nil }
        await writer.unlock()
        runner.cancel()
    }
}
