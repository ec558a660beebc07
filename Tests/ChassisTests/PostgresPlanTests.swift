@testable import Chassis
import ChassisTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// A prepared statement keeps the generic plan PostgreSQL made for it, whatever the table
/// grows to afterwards, and a young table's statistics promise few rows. The per-event
/// and per-request lookups must probe the primary key even then: a plan that scans all of
/// a consumer's handled records made every check slower as the table grew.
@Suite("PostgreSQL plans", .enabled(if: TestServers.postgresURL != nil || TestServers.required,
                                    "needs MSA_TEST_POSTGRES (scripts/infra.sh start postgres)"))
struct PostgresPlanTests {
    @Test func lookupsProbeThePrimaryKeyWhateverTheStatistics() async throws {
        try await withPostgresDatabase { url in
            let store = try await PostgresStore(url: url, schema: "plans", service: "s")
            // A connection set up as the store's are.
            var configuration = try PostgresURL(url).connectionConfiguration
            configuration.options.additionalStartupParameters = PostgresStore.sessionParameters(schema: "plans")
            let logger = Logger(label: "plans")
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            func run(_ sql: String) async throws -> [String] {
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().map { try $0.decode(String.self) }
            }
            // The pending writes' statement deleting two documents and nothing else.
            let types = ["text[]", "int8[]", "text[]", "text[]", "int8[]", "text[]", "int8[]", "text[]", "text[]", "text[]",
                         "int8[]", "text[]", "text[]", "text[]", "text[]", "text[]", "int8[]", "text[]", "int4[]", "int8[]",
                         "text[]", "int4[]", "int8[]", "text[]", "text[]", "int4[]", "int8[]", "int8[]"]
            var applyArguments = types.map { "'{}'::\($0)" }
            (applyArguments[3], applyArguments[4]) = ("ARRAY['things', 'things']", "ARRAY[7, 8]::int8[]")
            let cases: [(name: String, sql: String, arguments: String, probes: String)] = [
                ("handled", Prepared.Handled.sql, "('c', ARRAY['e7', 'x'])", "Index Only Scan using handled_pkey"),
                ("documents", Prepared.Documents.sql, "(ARRAY['things', 'things'], ARRAY[7, 8]::int8[])", "Index Scan using documents_pkey"),
                ("document", Prepared.Document.sql, "('things', 7)", "Index Scan using documents_pkey"),
                ("apply", PendingWrites.Apply.sql, "(\(applyArguments.joined(separator: ", ")))", "Index Scan using documents_pkey"),
            ]
            func check(_ phase: String) async throws {
                for c in cases {
                    let plan = try await run("EXPLAIN EXECUTE \(c.name)_\(phase)\(c.arguments)").joined(separator: "\n")
                    #expect(plan.contains(c.probes) && !plan.contains("Seq Scan on documents") && !plan.contains("Seq Scan on handled")
                                && !plan.contains("Bitmap Heap Scan on documents") && !plan.contains("Bitmap Heap Scan on handled"),
                            "\(c.name), plan made \(phase): \(plan)")
                }
            }
            do {
                // A connection's generic plans are made at a statement's first execution,
                // often while the tables are still empty, and kept as they fill.
                for c in cases {
                    _ = try await run("PREPARE \(c.name)_empty AS \(c.sql)")
                    _ = try await run("EXECUTE \(c.name)_empty\(c.arguments)")
                }
                // Thousands of rows that no ANALYZE has seen, as a minute into a run.
                _ = try await run("INSERT INTO handled SELECT 'c', 'e' || g, 0 FROM generate_series(1, 5000) g")
                _ = try await run("INSERT INTO documents SELECT 'things', g, '{}' FROM generate_series(1, 5000) g")
                try await check("empty")
                for c in cases { _ = try await run("PREPARE \(c.name)_filled AS \(c.sql)") }
                try await check("filled")
                // And the statement does what it says.
                var applied = PendingWrites()
                applied.put("things", id: 7, body: nil)
                applied.put("things", id: 8, body: #"{"kept":false}"#)
                applied.put("things", id: 5001, body: #"{"kept":true}"#)
                let rows = try await connection.execute(applied.statement, logger: logger)
                for try await _ in rows {}
                let left = try await run("SELECT count(*)::text FROM documents WHERE id IN (7, 8, 5001)")
                #expect(left == ["2"])
                try await connection.close()
                try await store.dropSchemaAndClose()
            } catch {
                try? await connection.close()
                try? await store.dropSchemaAndClose()
                throw error
            }
        }
    }
}
