import Foundation
import PostgresNIO

/// A ``PostgresStore``'s schema: the tables each migration creates, and how the store
/// applies the ones the schema lacks when it opens.
extension PostgresStore {
    /// Migrations, applied once per schema in order, under the schema's write lock so
    /// replicas starting together do not race.
    static let migrations: [(name: String, sql: @Sendable (Tables) -> [String])] = [
        ("chassis-v1", { t in [
            "CREATE TABLE \(t.documents) (collection TEXT NOT NULL, id BIGINT NOT NULL, body JSONB NOT NULL, PRIMARY KEY (collection, id))",
            "CREATE TABLE \(t.sequences) (collection TEXT PRIMARY KEY, next BIGINT NOT NULL)",
            """
            CREATE TABLE \(t.outbox) (seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, type TEXT NOT NULL, source TEXT NOT NULL,
                                      time BIGINT NOT NULL, key TEXT NOT NULL, traceparent TEXT, payload TEXT NOT NULL, published_at BIGINT)
            """,
            "CREATE INDEX outbox_pending ON \(t.outbox) (seq) WHERE published_at IS NULL",
            """
            CREATE TABLE \(t.handled) (consumer TEXT NOT NULL, event_id TEXT NOT NULL, handled_at BIGINT NOT NULL,
                                       PRIMARY KEY (consumer, event_id))
            """,
            "CREATE INDEX handled_age ON \(t.handled) (handled_at)",
            "CREATE TABLE \(t.positions) (grp TEXT NOT NULL, part INTEGER NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (grp, part))",
            """
            CREATE TABLE \(t.deadLetters) (id BIGSERIAL PRIMARY KEY, grp TEXT NOT NULL, part INTEGER NOT NULL, position BIGINT NOT NULL,
                                           envelope TEXT NOT NULL, error TEXT NOT NULL, attempts INTEGER NOT NULL, parked_at BIGINT NOT NULL)
            """,
        ] }),
        ("chassis-v2-write-lock", { t in [
            "CREATE TABLE \(t.writeLock) (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
            "INSERT INTO \(t.writeLock) (id, version) VALUES (1, 0)",
        ] }),
        ("chassis-v3-epochs", { t in [
            "ALTER TABLE \(t.positions) ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0",
        ] }),
    ]

    /// Applies the migrations the schema lacks, in a transaction of its own under an
    /// advisory lock on the schema's name (the write lock's row may not exist yet); it ends
    /// by taking the write lock too, so it also waits for writers of running replicas.
    func migrate() async throws {
        await writer.lock()
        do {
            let connection = try await openWriter()
            do {
                let schema = "\"\(schema)\""
                try await run(connection, "BEGIN")
                try await run(connection, "SELECT pg_advisory_xact_lock(hashtext(\(self.schema)))::text")
                try await run(connection, "CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)")
                try await run(connection, "CREATE TABLE IF NOT EXISTS \(unescaped: schema).migrations (name TEXT PRIMARY KEY)")
                let applied = try await rows(connection, "SELECT name FROM \(unescaped: schema).migrations").map { try $0.decode(String.self) }
                for migration in Self.migrations where !applied.contains(migration.name) {
                    for statement in migration.sql(tables) {
                        try await run(connection, PostgresQuery(unsafeSQL: statement))
                    }
                    try await run(connection, "INSERT INTO \(unescaped: schema).migrations (name) VALUES (\(migration.name))")
                }
                _ = try await rows(connection, Prepared.WriteLock())
                try await run(connection, "COMMIT")
            } catch {
                await rollBack(connection)
                throw error
            }
        } catch {
            await writer.unlock()
            throw error
        }
        await writer.unlock()
    }
}
