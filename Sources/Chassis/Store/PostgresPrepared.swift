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
        static let sql = """
            SELECT collection, id, body::text FROM documents
            WHERE (collection, id) IN (SELECT * FROM unnest($1::text[], $2::int8[]))
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

    /// Which of `eventIds` `consumer` has handled.
    struct Handled: PostgresPreparedStatement {
        static let name = "msa_handled"
        static let sql = "SELECT event_id FROM handled WHERE consumer = $1 AND event_id = ANY($2::text[])"
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

    /// Serializes a schema's writers across processes, until the transaction ends.
    struct SchemaLock: PostgresPreparedStatement {
        static let name = "msa_schema_lock"
        static let sql = "SELECT pg_advisory_xact_lock(hashtext($1))::text"
        var schema: String
        func makeBindings() throws -> PostgresBindings { bindings(schema) }
        func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
    }

    struct PendingOutbox: PostgresPreparedStatement {
        static let name = "msa_pending_outbox"
        static let sql = """
            SELECT seq, event_id, type, source, time, key, traceparent, payload FROM outbox
            WHERE published_at IS NULL ORDER BY seq LIMIT $1
            """
        var limit: Int64
        func makeBindings() throws -> PostgresBindings { bindings(limit) }
        func decodeRow(_ row: PostgresRow) throws -> OutboxEntry {
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
