import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The SQL shared by reads inside and outside transactions.
enum PostgresSQL {
    static func documents(_ t: PostgresStore.Tables, _ collection: String, _ query: DocumentQuery) -> PostgresQuery {
        var sql = "SELECT id, body::text FROM \(t.documents) WHERE "
        var binds = PostgresBindings()
        sql += whereClause(collection, query.filters, &binds)
        if let after = query.afterId {
            binds.append(after)
            sql += " AND id > $\(binds.count)"
        }
        let order = query.sort.isEmpty ? [SortKey("id")] : query.sort + [SortKey("id")]
        sql += " ORDER BY " + order.map { "\(expression($0.field)) \($0.ascending ? "ASC" : "DESC")" }.joined(separator: ", ")
        binds.append(query.limit)
        binds.append(query.offset)
        sql += " LIMIT $\(binds.count - 1) OFFSET $\(binds.count)"
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    static func count(_ t: PostgresStore.Tables, _ collection: String, _ filters: [FieldMatch]) -> PostgresQuery {
        var binds = PostgresBindings()
        let clause = whereClause(collection, filters, &binds)
        return PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(t.documents) WHERE " + clause, binds: binds)
    }

    /// Field names were validated as identifiers before they reach here. Sorting by a JSON
    /// value orders numbers numerically and strings by their text, as SQLite does.
    private static func expression(_ field: String) -> String {
        field == "id" ? "id" : "body->'\(field)'"
    }

    /// `field = value` compared as JSON: the text of a string, number or boolean equals the
    /// value, or — for a numeric value — the number equals it numerically (`4` matches 4.0).
    private static func whereClause(_ collection: String, _ filters: [FieldMatch], _ binds: inout PostgresBindings) -> String {
        binds.append(collection)
        var sql = "collection = $\(binds.count)"
        for filter in filters {
            if filter.field == "id" {
                guard let id = Int64(filter.value) else { sql += " AND FALSE"; continue }
                binds.append(id)
                sql += " AND id = $\(binds.count)"
                continue
            }
            binds.append(filter.value)
            let text = "$\(binds.count)"
            if let number = Double(filter.value), number.isFinite {
                binds.append(filter.value)
                sql += " AND (body->>'\(filter.field)' = \(text) OR (jsonb_typeof(body->'\(filter.field)') = 'number'"
                    + " AND (body->>'\(filter.field)')::numeric = $\(binds.count)::numeric))"
            } else {
                sql += " AND body->>'\(filter.field)' = \(text)"
            }
        }
        return sql
    }

    static func storedDocument(_ row: PostgresRow) throws -> StoredDocument {
        let (id, body) = try row.decode((Int64, String).self)
        return StoredDocument(id: id, body: Data(body.utf8))
    }

    static func deadLetter(_ row: PostgresRow) throws -> DeadLetter {
        let (id, group, partition, position, envelope, error, attempts, parkedAt) =
            try row.decode((Int64, String, Int32, Int64, String, String, Int32, Int64).self)
        return DeadLetter(id: id, group: group, partition: Int(partition), position: position,
                          envelope: try JSONDecoder().decode(EventEnvelope.self, from: Data(envelope.utf8)),
                          error: error, attempts: Int(attempts), parkedAt: parkedAt)
    }
}
