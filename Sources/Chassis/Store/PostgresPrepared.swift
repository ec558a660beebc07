import Foundation
import PostgresNIO

/// The statements a service runs on every request or event, prepared once per connection:
/// PostgreSQL then skips parsing and planning them (about 40% of its work for statements
/// this small), and the client sends only the values. Their SQL names tables without a
/// schema: every connection of a ``PostgresStore`` has its schema as `search_path`. Each
/// has a fixed name (the default is computed from the type on every execution).
enum Prepared {
    struct Document: PostgresPreparedStatement {
        static let name = "msa_document"
        static let sql = "SELECT body::text FROM documents WHERE collection = $1 AND id = $2"
        var collection: String
        var id: Int64
        func makeBindings() throws -> PostgresBindings { bindings(collection, id) }
        func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
    }

    struct Documents: PostgresPreparedStatement {
        static let name = "msa_documents"
        // One index probe per key, whatever the statistics say (see `Handled`).
        static let sql = """
            SELECT u.c, u.i, d.body FROM unnest($1::text[], $2::int8[]) AS u(c, i),
            LATERAL (SELECT body::text FROM documents WHERE collection = u.c AND id = u.i LIMIT 1) AS d
            """
        var keys: [(collection: String, id: Int64)]
        func makeBindings() throws -> PostgresBindings { bindings(keys.map(\.collection), keys.map(\.id)) }
        func decodeRow(_ row: PostgresRow) throws -> PrefetchedDocument {
            let (collection, id, body) = try row.decode((String, Int64, String).self)
            return PrefetchedDocument(collection: collection, id: id, body: body)
        }
    }

    struct PrefetchedDocument: Sendable {
        var collection: String
        var id: Int64
        var body: String
    }

    struct DocumentExists: PostgresPreparedStatement {
        static let name = "msa_document_exists"
        static let sql = "SELECT 1 FROM documents WHERE collection = $1 AND id = $2"
        var collection: String
        var id: Int64
        func makeBindings() throws -> PostgresBindings { bindings(collection, id) }
        func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
    }

    /// A whole collection in id order, a page at a time (no filter, no sort).
    struct Collection: PostgresPreparedStatement {
        static let name = "msa_collection"
        static let sql = "SELECT id, body::text FROM documents WHERE collection = $1 ORDER BY id LIMIT $2 OFFSET $3"
        var collection: String
        var limit: Int64
        var offset: Int64
        func makeBindings() throws -> PostgresBindings { bindings(collection, limit, offset) }
        func decodeRow(_ row: PostgresRow) throws -> StoredDocument { try PostgresSQL.storedDocument(row) }
    }

    struct NextId: PostgresPreparedStatement {
        static let name = "msa_next_id"
        static let sql = """
            INSERT INTO sequences (collection, next) VALUES ($1, 1)
            ON CONFLICT (collection) DO UPDATE SET next = sequences.next + 1 RETURNING next
            """
        var collection: String
        func makeBindings() throws -> PostgresBindings { bindings(collection) }
        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    /// Which of `eventIds` `consumer` has handled: one probe of the primary key per id.
    /// Written so because a prepared statement keeps its generic plan, and the plain
    /// `consumer = $1 AND event_id = ANY($2)` got one that scanned all of the consumer's
    /// records and filtered them (the statistics of a young table promise few) — 0.4–0.7 ms
    /// a check a minute into a benchmark, growing with the table. The `LIMIT` keeps the
    /// planner from turning the probes into a join.
    struct Handled: PostgresPreparedStatement {
        static let name = "msa_handled"
        static let sql = """
            SELECT u.e FROM unnest($2::text[]) AS u(e),
            LATERAL (SELECT FROM handled WHERE consumer = $1 AND event_id = u.e LIMIT 1) AS h
            """
        var consumer: String
        var eventIds: [String]
        func makeBindings() throws -> PostgresBindings { bindings(consumer, eventIds) }
        func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
    }

    struct Position: PostgresPreparedStatement {
        static let name = "msa_position"
        static let sql = "SELECT position FROM positions WHERE grp = $1 AND part = $2"
        var group: String
        var partition: Int32
        func makeBindings() throws -> PostgresBindings { bindings(group, partition) }
        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    struct Epoch: PostgresPreparedStatement {
        static let name = "msa_epoch"
        static let sql = "SELECT epoch FROM positions WHERE grp = $1 AND part = $2"
        var group: String
        var partition: Int32
        func makeBindings() throws -> PostgresBindings { bindings(group, partition) }
        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    struct Claim: PostgresPreparedStatement {
        static let name = "msa_claim"
        static let sql = """
            INSERT INTO positions (grp, part, position, epoch) VALUES ($1, $2, 0, 1) \
            ON CONFLICT (grp, part) DO UPDATE SET epoch = positions.epoch + 1 RETURNING epoch
            """
        var group: String
        var partition: Int32
        func makeBindings() throws -> PostgresBindings { bindings(group, partition) }
        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    /// Serializes a schema's writers across processes, until the transaction ends: the
    /// update locks the schema's one `write_lock` row, and a writer that waited for it reads
    /// the row as the one before it committed it. Every transaction bumps the version, so
    /// a writer that finds the version its own last commit left knows no other process
    /// wrote since (``PostgresStore``'s sequence cache relies on it).
    struct WriteLock: PostgresPreparedStatement {
        static let name = "msa_write_lock"
        static let sql = "UPDATE write_lock SET version = version + 1 WHERE id = 1 RETURNING version"
        func makeBindings() throws -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    /// Outbox rows published: one statement of its own, outside any transaction (see
    /// ``PostgresStore/markPublished(_:)``).
    struct MarkPublished: PostgresPreparedStatement {
        static let name = "msa_mark_published"
        static let sql = "UPDATE outbox SET published_at = $1 WHERE seq = ANY($2::int8[]) AND published_at IS NULL"
        var time: Int64
        var sequences: [Int64]
        func makeBindings() throws -> PostgresBindings { bindings(time, sequences) }
        func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
    }

    /// Marks rows published and reads the next pending ones. The read does not see the
    /// update (one snapshot for the whole statement), so it leaves the marked rows out.
    struct MarkThenPending: PostgresPreparedStatement {
        static let name = "msa_mark_then_pending"
        static let sql = """
            WITH marked AS (UPDATE outbox SET published_at = $1 WHERE seq = ANY($2::int8[]) AND published_at IS NULL)
            SELECT seq, event_id, type, source, time, key, traceparent, payload FROM outbox
            WHERE published_at IS NULL AND NOT (seq = ANY($2::int8[])) ORDER BY seq LIMIT $3
            """
        var time: Int64
        var sequences: [Int64]
        var limit: Int64
        func makeBindings() throws -> PostgresBindings { bindings(time, sequences, limit) }
        func decodeRow(_ row: PostgresRow) throws -> OutboxEntry { try PendingOutbox.entry(row) }
    }

    struct PendingOutbox: PostgresPreparedStatement {
        static let name = "msa_pending_outbox"
        static let sql = """
            SELECT seq, event_id, type, source, time, key, traceparent, payload FROM outbox
            WHERE published_at IS NULL ORDER BY seq LIMIT $1
            """
        var limit: Int64
        func makeBindings() throws -> PostgresBindings { bindings(limit) }
        func decodeRow(_ row: PostgresRow) throws -> OutboxEntry { try Self.entry(row) }

        static func entry(_ row: PostgresRow) throws -> OutboxEntry {
            let (seq, id, type, source, time, key, traceparent, payload) =
                try row.decode((Int64, String, String, String, Int64, String, String?, String).self)
            return OutboxEntry(sequence: seq, envelope: EventEnvelope(id: id, type: type, source: source, time: time, key: key,
                                                                      traceparent: traceparent, payload: Data(payload.utf8)))
        }
    }
}

private func bindings(_ values: any PostgresNonThrowingEncodable...) -> PostgresBindings {
    var bindings = PostgresBindings(capacity: values.count)
    for value in values { bindings.append(value) }
    return bindings
}

extension Prepared.Collection {
    /// The prepared form of `query` when it asks for a whole collection in id order.
    init?(_ collection: String, _ query: DocumentQuery) {
        guard query.filters.isEmpty, query.sort.isEmpty, query.afterId == nil else { return nil }
        self.init(collection: collection, limit: Int64(query.limit), offset: Int64(query.offset))
    }
}
