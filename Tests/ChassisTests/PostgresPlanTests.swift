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
            var configuration = try PostgresURL(url).connectionConfiguration
            configuration.options.additionalStartupParameters = [("search_path", "plans")]
            let logger = Logger(label: "plans")
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            func run(_ sql: String) async throws -> [String] {
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().map { try $0.decode(String.self) }
            }
            do {
                // Thousands of rows that no ANALYZE has seen, as a minute into a run.
                _ = try await run("INSERT INTO handled SELECT 'c', 'e' || g, 0 FROM generate_series(1, 5000) g")
                _ = try await run("INSERT INTO documents SELECT 'things', g, '{}' FROM generate_series(1, 5000) g")
                _ = try await run("SET plan_cache_mode = force_generic_plan")
                let cases: [(name: String, sql: String, arguments: String)] = [
                    ("handled", Prepared.Handled.sql, "('c', ARRAY['e7', 'x'])"),
                    ("documents", Prepared.Documents.sql, "(ARRAY['things', 'things'], ARRAY[7, 8]::int8[])"),
                    ("document", Prepared.Document.sql, "('things', 7)"),
                ]
                for c in cases {
                    _ = try await run("PREPARE \(c.name) AS \(c.sql)")
                    let plan = try await run("EXPLAIN EXECUTE \(c.name)\(c.arguments)").joined(separator: "\n")
                    #expect(plan.contains("Index") && !plan.contains("Seq Scan") && !plan.contains("Bitmap Heap Scan"),
                            "\(c.name): \(plan)")
                }
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
