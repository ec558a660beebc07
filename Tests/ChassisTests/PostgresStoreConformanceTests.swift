import Chassis
import ChassisTesting
import Foundation
import Testing

@Suite("PostgresStore conformance", .enabled(if: TestServers.postgresURL != nil || TestServers.required,
                                              "needs MSA_TEST_POSTGRES (scripts/infra.sh start postgres)"))
struct PostgresStoreConformanceTests {
    @Test(arguments: StoreConformance.cases)
    func postgresStoreConforms(_ c: StoreConformance.Case) async throws {
        try await withPostgresStore(service: "conformance") { store in try await c.run(store) }
    }
}

@Suite("PostgresStore replicas", .enabled(if: TestServers.postgresURL != nil || TestServers.required,
                                           "needs MSA_TEST_POSTGRES (scripts/infra.sh start postgres)"))
struct PostgresReplicaTests {
    /// Two processes of one service share its schema: the schema's write lock makes
    /// their writes (and group commits) take turns, so read-modify-write loses nothing and
    /// the outbox stays in commit order.
    @Test func replicasSharingASchemaTakeTurns() async throws {
        try await withPostgresDatabase { url in
            let first = try await PostgresStore(url: url, schema: "shared", service: "s")
            let second = try await PostgresStore(url: url, schema: "shared", service: "s")
            try await first.write { try await $0.put("counters", id: 1, body: JSON.encode(["n": 0] as JSONValue)) }
            let perReplica = 30
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in [first, second] {
                    for n in 0..<perReplica {
                        group.addTask {
                            try await store.write { tx in
                                let n0 = try JSONDecoder().decode([String: Int].self, from: try await tx.document("counters", id: 1)!)["n"]!
                                try await tx.put("counters", id: 1, body: JSON.encode(["n": .number(Double(n0 + 1))] as JSONValue))
                                try await tx.enqueue([sampleEnvelope(key: "k\(n)")])
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let counter = try JSONDecoder().decode([String: Int].self, from: try await second.document("counters", id: 1)!)["n"]
            #expect(counter == 2 * perReplica)
            let outbox = try await first.pendingOutbox(limit: 1000)
            #expect(outbox.count == 2 * perReplica)
            #expect(zip(outbox, outbox.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
            // Each replica's lock ended with its transaction: the other writes at once.
            try await second.write { try await $0.put("counters", id: 2, body: Data("{}".utf8)) }
            try await first.write { try await $0.put("counters", id: 3, body: Data("{}".utf8)) }
            try await first.close()
            try await second.dropSchemaAndClose()
        }
    }

    /// Each replica hands out ids from what its last commit left of the sequences, while
    /// no other replica wrote in between (the write lock's version tells): ids stay
    /// distinct when both create documents at once, stay above an id the other replica
    /// put explicitly, and a store opened later continues above them all.
    @Test func replicasHandOutDistinctIds() async throws {
        try await withPostgresDatabase { url in
            let first = try await PostgresStore(url: url, schema: "ids", service: "s")
            let second = try await PostgresStore(url: url, schema: "ids", service: "s")
            func create(_ store: PostgresStore, _ by: String) async throws -> Int64 {
                try await store.write { tx in
                    let id = try await tx.nextId("tickets")
                    try await tx.put("tickets", id: id, body: Data(#"{"by":"\#(by)"}"#.utf8))
                    return id
                }
            }
            let perReplica = 30
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for n in 0..<perReplica {
                    group.addTask { try await create(first, "first\(n)") }
                    group.addTask { try await create(second, "second\(n)") }
                }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            #expect(Set(ids).count == 2 * perReplica)
            #expect(try await first.count("tickets", matching: []) == 2 * perReplica)
            // Both replicas know the sequence now; one puts an id far above it.
            _ = try await create(first, "warm")
            _ = try await create(second, "warm")
            let explicit = (ids.max() ?? 0) + 50
            try await second.write { try await $0.put("tickets", id: explicit, body: Data(#"{"by":"explicit"}"#.utf8)) }
            let afterExplicit = try await create(first, "after")
            #expect(afterExplicit > explicit)
            // Alternate: each write follows one of the other replica.
            var alternating: [Int64] = []
            for n in 0..<10 { alternating.append(try await create(n % 2 == 0 ? first : second, "alternating")) }
            #expect(Set(alternating).count == 10 && alternating.allSatisfy { $0 > afterExplicit })
            let later = try await PostgresStore(url: url, schema: "ids", service: "s")
            let latest = try await create(later, "later")
            #expect(latest > (alternating.max() ?? 0))
            #expect(try await later.count("tickets", matching: []) == 2 * perReplica + 2 + 1 + 1 + 10 + 1)
            try await first.close()
            try await later.close()
            try await second.dropSchemaAndClose()
        }
    }

    @Test func aStoreReachesTheServerThroughItsUnixSocket() async throws {
        guard let url = TestServers.postgresSocketURL else {
            throw ConformanceFailure("MSA_TEST_POSTGRES_SOCKET is not set: run scripts/infra.sh start postgres")
        }
        let store = try await PostgresStore(url: url, schema: "socket_\(RandomID.uuid().prefix(8).replacingOccurrences(of: "-", with: ""))",
                                            service: "s")
        do {
            let id = try await store.write { tx in
                let id = try await tx.nextId("things")
                try await tx.put("things", id: id, body: Data(#"{"via":"socket"}"#.utf8))
                return id
            }
            #expect(try await store.document("things", id: id).map { String(decoding: $0, as: UTF8.self) } == #"{"via": "socket"}"#)
            try await store.dropSchemaAndClose()
        } catch {
            try? await store.dropSchemaAndClose()
            throw error
        }
    }
}
