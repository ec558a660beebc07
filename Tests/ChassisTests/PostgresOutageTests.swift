import Chassis
import ChassisTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// A database outage under a running store: operations fail fast with a 503-style refusal
/// and `ping` fails (the service reports not ready) while the server is down; when it is
/// back, the same store object recovers by itself, with everything committed before.
@Suite("PostgresStore outage", .enabled(if: TestServers.postgresURL != nil || TestServers.required,
                                        "needs PostgreSQL (scripts/infra.sh)"))
struct PostgresOutageTests {
    @Test func aStoreRefusesWhileTheDatabaseIsDownAndRecoversWhenItIsBack() async throws {
        try await PrivatePostgres.with { server in
            let store = try await PostgresStore(url: server.url, schema: "outage", service: "outage",
                                                operationTimeout: .seconds(2))
            try await store.write { try await $0.put("things", id: 1, body: Data(#"{"n":1}"#.utf8)) }
            _ = try await store.pendingOutbox(limit: 1)  // A pooled read connection is open too.

            try await server.halt()
            let started = ContinuousClock.now
            await #expect(throws: (any Error).self) { try await store.ping() }
            let refusal = await #expect(throws: Refusal.self) {
                try await store.write { try await $0.put("things", id: 2, body: Data(#"{"n":2}"#.utf8)) }
            }
            #expect(refusal?.status == 503)
            await #expect(throws: Refusal.self) { _ = try await store.document("things", id: 1) }
            #expect(started.duration(to: .now) < .seconds(20), "refusals come within the operation timeout, not at a pool's patience")

            try await server.restart()
            try await eventually("the store answers again after the restart", timeout: .seconds(30)) {
                (try? await store.ping()) != nil
            }
            try await store.write { try await $0.put("things", id: 2, body: Data(#"{"n":2}"#.utf8)) }
            #expect(try await store.document("things", id: 1).map(JSON.parse) == ["n": 1])
            #expect(try await store.count("things", matching: []) == 2)
            try await store.close()
        }
    }

    /// A statement that hangs (here: waiting for a lock another session holds) fails
    /// within the operation timeout, the connection it hung on is given up, and the
    /// store writes again once the database answers.
    @Test func aHungStatementFailsWithinTheTimeoutAndTheStoreGoesOn() async throws {
        try await withPostgresDatabase { url in
            let store = try await PostgresStore(url: url, schema: "hung", service: "hung", operationTimeout: .seconds(1))
            try await store.write { try await $0.put("things", id: 1, body: Data(#"{"n":1}"#.utf8)) }
            let logger = Logger(label: "blocker")
            let blocker = try await PostgresConnection.connect(configuration: try PostgresURL(url).connectionConfiguration,
                                                               id: 9, logger: logger)
            _ = try await blocker.query("BEGIN", logger: logger)
            _ = try await blocker.query("UPDATE hung.write_lock SET version = version WHERE id = 1", logger: logger)

            let started = ContinuousClock.now
            let refusal = await #expect(throws: Refusal.self) {
                try await store.write { try await $0.put("things", id: 2, body: Data(#"{"n":2}"#.utf8)) }
            }
            #expect(refusal?.status == 503)
            #expect(started.duration(to: .now) < .seconds(10), "the refusal comes at the operation timeout")

            _ = try await blocker.query("ROLLBACK", logger: logger)
            try await blocker.close()
            try await eventually("the store writes again", timeout: .seconds(20)) {
                (try? await store.write { try await $0.put("things", id: 2, body: Data(#"{"n":2}"#.utf8)) }) != nil
            }
            #expect(try await store.count("things", matching: []) == 2)
            try await store.dropSchemaAndClose()
        }
    }
}
