import Chassis
import ChassisTesting
import Foundation
import Testing

/// Rental on PostgreSQL and NATS JetStream, breaking the bus side: replicas of a consumer
/// service sharing partitions through leases in JetStream KV, and the JetStream leader
/// killed under load.
@Suite("Rental on JetStream (real processes)", .serialized, .enabled(if: TestServers.required || TestServers.postgresURL != nil,
                                                                      "needs PostgreSQL and nats-server (scripts/infra.sh)"))
struct JetStreamSystemTests {
    /// Three lend replicas split the 8 partitions; each event is handled once, in per-key
    /// order (approve before cancel); one replica SIGKILLed, its partitions are taken over.
    @Test func threeLendReplicasShareThePartitionsAndTheSurvivorsTakeOver() async throws {
        try await withPostgresDatabase { url in
          try await PrivateNATS.with { nats in
            try await RunningSystem.with("rental", arguments: ["--store", url, "--bus", nats.url, "--replicas", "lend=3"],
                                         environment: ["MSA_LEASE_TTL_MS": "3000"]) { system in
                let api = system.gateway
                let replicas = [try await system.direct("lend"), try await system.direct("lend#2"), try await system.direct("lend#3")]
                try await eventually("partitions spread over the three replicas", timeout: .seconds(30)) {
                    var shares: [Double] = []
                    for replica in replicas { shares.append(try await owned(replica)) }
                    return shares.sorted() == [2, 3, 3]
                }
                func handledByAll() async throws -> Double {
                    var sum = 0.0
                    for replica in replicas { sum += try await handled(replica) }
                    return sum
                }

                let cancelled = try await requestAndCancel(12, customer: "js-replicas", via: api)
                let confirmed = try await request(6, customer: "js-replicas", via: api)
                try await confirmAll(confirmed, via: api)
                try await eventually("phase 1 handled", timeout: .seconds(30)) { try await handledByAll() == 2 * 12 + 6 }
                try await expectCancelled(cancelled, via: api)
                var busy = 0
                for replica in replicas where try await handled(replica) > 0 { busy += 1 }
                #expect(busy >= 2, "the events were not spread over the replicas")

                #expect(try await system.msa(["stop", "rental", "lend#3", "--kill"]).status == 0)
                let survivors = Array(replicas.prefix(2))
                let before = try await handled(survivors[0]) + (try await handled(survivors[1]))
                let lateCancelled = try await requestAndCancel(12, customer: "js-replicas", via: api)
                let lateConfirmed = try await request(6, customer: "js-replicas", via: api)
                try await eventually("the survivors own every partition", timeout: .seconds(30)) {
                    try await owned(survivors[0]) + (try await owned(survivors[1])) == 8
                }
                try await eventually("phase 2 handled by the survivors", timeout: .seconds(30)) {
                    try await handled(survivors[0]) + (try await handled(survivors[1])) - before == 2 * 12 + 6
                }
                try await confirmAll(lateConfirmed, via: api)
                try await expectCancelled(lateCancelled, via: api)
                #expect(try await duplicates(survivors[0]) + (try await duplicates(survivors[1])) == 0)
                let list = try await listed(in: api)
                #expect(list.count == Set(list).count && list.count == 36, "lend's list: \(list.count) items, \(Set(list).count) distinct")
            }
          }
        }
    }

    /// The node leading the system's stream is SIGKILLed while customers keep paying:
    /// every request that was answered 201 has all its events delivered, none twice, and
    /// every view completes once the cluster has a new leader.
    @Test func killingTheStreamLeaderLosesAndDoublesNothing() async throws {
        try await withPostgresDatabase { url in
          try await PrivateNATSCluster.with { cluster in
            try await RunningSystem.with("rental", arguments: ["--store", url, "--bus", cluster.urls.joined(separator: ",")]) { system in
                let api = system.gateway
                let first = try await request(20, customer: "leader", via: api, lanes: 4)
                let leader = try await streamLeader(cluster)
                let load = Task { try await request(40, customer: "leader", via: api, lanes: 4) }
                try await LoopTimer.sleep(for: .milliseconds(300))
                cluster.kill(node: leader)
                let ids = first + (try await load.value)
                #expect(ids.count == 60 && Set(ids).count == 60)

                try await expectEveryViewCompleteOnce(ids, customer: "leader", via: api, after: "the new leader took over",
                                                      within: .seconds(90))
            }
          }
        }
    }

    /// Which node (0-based, in the cluster's URL order) leads the stream `MSA_RENTAL`.
    func streamLeader(_ cluster: PrivateNATSCluster) async throws -> Int {
        let client = try await NATSClient.connect(.init(servers: cluster.urls, name: "probe"))
        defer { Task { await client.close() } }
        let info = try await JetStream(client: client).api("STREAM.INFO.MSA_RENTAL")
        guard let name = info["cluster"]?["leader"]?.stringValue, let index = Int(name.dropFirst()) else {
            throw SystemFailure("no leader in \(info)")
        }
        return index - 1  // Servers are named n1, n2, n3 in URL order.
    }
}
