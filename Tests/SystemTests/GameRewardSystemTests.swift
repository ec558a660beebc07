import Chassis
import ChassisTesting
import Foundation
import GameReward
import SystemDriver
import Testing

/// Game reward run as a user runs it — `msa up gamereward`, real processes, real ports —
/// and broken on purpose: reward and gift stopped, gift frozen past the timeout, consumers
/// killed with SIGKILL, reward run twice.
@Suite("Game reward system (real processes)", .serialized)
struct GameRewardSystemTests {
    @Test func theSeedScenarioPassesEveryStep() async throws {
        try await RunningSystem.with("gamereward") { system in
            let run = try await system.msa(["scenario", "gamereward"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("gamereward scenario: all 5 steps passed"), "\(run.output)")
        }
    }

    /// Hostile bodies, values, headers, methods, ids and queries on every endpoint: no
    /// 5xx, every 4xx a JSON error, nothing written by a refused request; gift's issuing
    /// and voiding do not exist through the gateway.
    @Test func theFuzzerFindsNoServerErrorAndEveryRefusalIsJSON() async throws {
        try await RunningSystem.with("gamereward") { system in
            let api = system.gateway
            let first = try await achieve(1, customer: 77, via: api)
            try await eventually("the first mission's wallet entry") { try await api.get("/wallets/\(first[0])").status == 200 }
            let fuzzer = Fuzzer(api: SystemClient(base: api.base), system: gameReward.definition, samples: gameReward.fuzzSamples)
            let (requests, findings) = try await fuzzer.run()
            #expect(requests > 500, "\(requests) requests")
            #expect(findings.isEmpty, "\(findings.count) of \(requests):\n\(findings.prefix(40).map(\.description).joined(separator: "\n"))")
            for path in ["/gifts", "/gifts/1/void"] {
                let outside = try await api.post(path, ["walletId": 1, "rewardId": 1, "customerId": 1, "status": "Exchanged", "exchangeId": "x"])
                #expect(outside.status == 404 && outside.body?["error"] != nil, "gateway \(path): \(outside.status) \(outside.text)")
            }
            #expect(try await total("/gifts", api) <= 1, "only the sample's own exchange")
        }
    }

    /// Missions keep being taken while reward is down; it catches up when it returns, and
    /// mypage then answers with every other service stopped.
    @Test func missionsTakenWhileRewardIsDownAreRewardedWhenItReturns() async throws {
        try await RunningSystem.with("gamereward") { system in
            let api = system.gateway
            #expect(try await system.msa(["stop", "gamereward", "reward"]).status == 0)
            let ids = try await achieve(10, customer: 5, via: api)
            for id in ids { #expect(try await api.get("/missions/\(id)").body?["rewardId"] == nil) }
            let down = try await api.get("/rewards")
            #expect(down.status == 503 && down.headers["retry-after"] != nil && down.body?["error"] != nil, "\(down.text)")

            #expect(try await system.msa(["start", "gamereward", "reward"]).status == 0)
            try await expectEveryMissionRewardedOnce(ids, customer: 5, via: api, after: "reward came back", within: .seconds(30))

            // mypage is built from events only: it answers with every other service down.
            for name in ["mission", "reward", "wallet", "gift"] { #expect(try await system.msa(["stop", "gamereward", name]).status == 0) }
            #expect(try await api.get("/missions/\(ids[0])").status == 503)
            let row = try await api.get("/mypages/\(ids[0])")
            #expect(row.status == 200 && row.body?["walletStatus"] == "Allocated", "\(row.text)")
            let found = try await api.get("/mypages/search/findByCustomerId?customerId=5&size=50").items("mypages")
            #expect(found.count == ids.count)
        }
    }

    /// Gift stopped, then frozen (SIGSTOP) past wallet's timeout: each exchange is a 503
    /// with `Retry-After`, the entry stays `Allocated`, and no gift is left behind — the one
    /// a frozen gift issues when it thaws is voided. Once gift is back, the exchange goes
    /// through and the reward follows.
    @Test func giftDownOrFrozenTurnsExchangesAwayAndLeavesNoGiftThenTheyGoThrough() async throws {
        let breakerOpensAtOnce = ["GIFT_TIMEOUT_MS": "300", "GIFT_RETRIES": "0", "GIFT_BREAKER_FAILURES": "1", "GIFT_BREAKER_OPEN_MS": "2000"]
        try await RunningSystem.with("gamereward", environment: breakerOpensAtOnce) { system in
            let api = system.gateway
            let ids = try await achieve(2, customer: 8, via: api)
            for id in ids { try await eventually("wallet entry \(id)") { try await api.get("/wallets/\(id)").status == 200 } }

            #expect(try await system.msa(["stop", "gamereward", "gift"]).status == 0)
            let down = try await api.patch("/wallets/\(ids[0])", GameRewardSeed.exchange)
            #expect(down.status == 503 && down.headers["retry-after"] != nil, "\(down.text)")
            #expect(try await api.get("/wallets/\(ids[0])").body?["status"] == "Allocated")
            #expect(try await system.msa(["start", "gamereward", "gift"]).status == 0)

            try await eventually("gift's breaker closed again") { try await api.get("/gifts").status == 200 }
            try await system.pause("gift")
            try await eventually("an exchange with gift frozen answered 503 after the timeout") {
                let frozen = try await api.patch("/wallets/\(ids[1])", GameRewardSeed.exchange)
                return frozen.status == 503 && frozen.headers["retry-after"] != nil
                    && frozen.body?["error"]?.stringValue?.contains("timed out") == true
            }
            let again = try await api.patch("/wallets/\(ids[1])", GameRewardSeed.exchange)
            #expect(again.status == 503 && again.headers["retry-after"] != nil, "refused while the first is undone or the breaker is open: \(again.text)")
            try await system.resume("gift")

            let wallet = try await system.direct("wallet")
            try await eventually("the late gift voided and nothing left to undo") {
                let pending = try await wallet.metric("msa_gated_calls_pending")
                let gifts = try await total("/gifts", api)
                return pending == 0 && gifts == 0
            }
            for id in ids { #expect(try await api.get("/wallets/\(id)").body?["status"] == "Allocated") }

            for id in ids {
                try await eventually("exchange of \(id) accepted after gift recovered") {
                    try await api.post("/wallets/\(id)", GameRewardSeed.exchange).status == 200
                }
                try await eventually("reward \(id) Exchanged") { try await api.get("/rewards/\(id)").body?["status"] == "Exchanged" }
            }
            #expect(try await total("/gifts", api) == 2)
        }
    }

    /// One entry exchanged by many requests at once (the same customer on several devices),
    /// and more entries at once than gift's limit of one pending call: exactly one gift per
    /// exchanged entry, every refusal a 409 or a 503 with `Retry-After`, and every entry,
    /// reward and gift agreeing afterwards.
    @Test func concurrentExchangesMakeExactlyOneGiftPerEntry() async throws {
        try await RunningSystem.with("gamereward") { system in
            let api = system.gateway
            let ids = try await achieve(6, customer: 9, via: api)
            for id in ids { try await eventually("wallet entry \(id)") { try await api.get("/wallets/\(id)").status == 200 } }

            let same = try await concurrently(8) { _ in try await api.patch("/wallets/\(ids[0])", GameRewardSeed.exchange) }
            let spread = try await concurrently(10) { lane in try await api.patch("/wallets/\(ids[1 + lane % 5])", GameRewardSeed.exchange) }
            for answer in same + spread {
                #expect([200, 409].contains(answer.status) || (answer.status == 503 && answer.headers["retry-after"] != nil), "\(answer.status) \(answer.text)")
            }
            #expect(same.filter { $0.status == 200 }.count <= 1, "one entry exchanged twice")
            let exchanged = try await exchangedEntries(ids, via: api)
            let gifts = try await api.get("/gifts?size=100").items("gifts").compactMap { $0["walletId"]?.int64Value }
            #expect(gifts.count == Set(gifts).count, "two gifts for one entry: \(gifts)")
            #expect(Set(gifts) == exchanged, "gifts \(gifts) for entries \(exchanged)")
            for id in exchanged {
                try await eventually("reward \(id) Exchanged") { try await api.get("/rewards/\(id)").body?["status"] == "Exchanged" }
            }
            let wallet = try await system.direct("wallet")
            #expect(try await wallet.metric("msa_gated_calls_pending") == 0)
        }
    }

    /// mission, reward, wallet and mypage are SIGKILLed the moment the last mission
    /// commits: the supervisor restarts them and every event arrives, exactly once.
    @Test func servicesKilledRightAfterCommitsLoseAndDoubleNothing() async throws {
        try await RunningSystem.with("gamereward") { system in
            let api = system.gateway
            let ids = try await achieve(30, customer: 3, via: api, lanes: 6)
            for name in ["mission", "reward", "wallet", "mypage"] { try await system.crash(name) }

            try await expectEveryMissionRewardedOnce(ids, customer: 3, via: api, after: "the restarts", within: .seconds(60))
            let restarts = try await system.msa(["ps", "gamereward"]).output
            #expect(restarts.split(separator: "\n").filter { $0.hasSuffix(" 1") }.count == 4, "\(restarts)")
        }
    }

    /// Two reward replicas split the partitions; each mission gets exactly one reward,
    /// each exchange reaches its reward after the reward exists (per-key order); a replica
    /// killed with SIGKILL has its partitions taken over by the other.
    @Test func twoRewardReplicasIssueExactlyOneRewardPerMission() async throws {
        try await RunningSystem.with("gamereward", arguments: ["--replicas", "reward=2"],
                                     environment: ["GIFT_MAX_CONCURRENT": "4"]) { system in
            let api = system.gateway
            let (reward1, reward2) = (try await system.direct("reward"), try await system.direct("reward#2"))
            try await eventually("partitions spread over both replicas") {
                let (first, second) = (try await owned(reward1, group: "reward"), try await owned(reward2, group: "reward"))
                return first == 4 && second == 4
            }
            let ids = try await achieve(24, customer: 4, via: api, lanes: 4)
            try await expectEveryMissionRewardedOnce(ids, customer: 4, via: api, after: "both replicas", within: .seconds(30))
            try await exchangeAll(ids.prefix(12), via: api)
            let (handled1, handled2) = (try await handled(reward1, group: "reward"), try await handled(reward2, group: "reward"))
            #expect(handled1 > 0 && handled2 > 0, "one replica did all the work: \(handled1) and \(handled2)")
            #expect(try await duplicates(reward2, group: "reward") == 0)
            // One RewardAllocated per mission reached wallet, over both replicas. (Not
            // reward's relay counters: the replicas share one outbox in embedded mode, and
            // an entry both relay is appended once, by its event id.)
            let wallet = try await system.direct("wallet")
            try await eventually("one RewardAllocated per mission handled by wallet") { try await allocations(wallet) == Double(ids.count) }

            #expect(try await system.msa(["stop", "gamereward", "reward#2", "--kill"]).status == 0)
            try await eventually("the survivor owning every partition", timeout: .seconds(5)) { try await owned(reward1, group: "reward") == 8 }
            let late = try await achieve(12, customer: 4, via: api, lanes: 4)
            try await expectEveryMissionRewardedOnce(ids + late, customer: 4, via: api, after: "the takeover", within: .seconds(30))
            try await exchangeAll(late.prefix(6), via: api)
            #expect(try await duplicates(reward1, group: "reward") == 0)
            try await eventually("one RewardAllocated per late mission handled by wallet") {
                try await allocations(wallet) == Double(ids.count + late.count)
            }
            #expect(try await duplicates(wallet, group: "wallet") == 0)
        }
    }
}

// MARK: - Steps

/// Achieves `count` missions of `customer` through `api` over `lanes` concurrent clients
/// (the seed's body, customerId as a string); returns their ids.
func achieve(_ count: Int, customer: Int, via api: Web, lanes: Int = 1) async throws -> [Int64] {
    try await concurrently(lanes) { lane in
        var ids: [Int64] = []
        for _ in stride(from: lane, to: count, by: lanes) {
            let answer = try await api.post("/missions", GameRewardSeed.mission(customerId: customer))
            guard answer.status == 201, let id = answer.body?["id"]?.int64Value else {
                throw SystemFailure("POST /missions: \(answer.status) \(answer.text)")
            }
            ids.append(id)
        }
        return ids
    }.flatMap { $0 }
}

/// Waits until every one of `ids` has its rewardId, its reward, its wallet entry and its
/// mypage row, then checks that none has two: one reward and one entry per mission, and
/// no row of `customer` that is not one of theirs.
func expectEveryMissionRewardedOnce(_ ids: [Int64], customer: Int, via api: Web, after what: String, within timeout: Duration,
                                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let size = "size=\(ids.count * 2 + 10)"
    try await eventually("every mission rewarded and shown after \(what)", timeout: timeout) {
        let missions = try await api.get("/missions/search/findByCustomerId?customerId=\(customer)&\(size)").items("missions")
        let rows = try await api.get("/mypages/search/findByCustomerId?customerId=\(customer)&\(size)").items("mypages")
        let rewarded = Set(missions.filter { $0["rewardId"]?.int64Value != nil }.compactMap { $0["id"]?.int64Value })
        let shown = Set(rows.filter { $0["walletStatus"] != nil && $0["walletStatus"] != .null }.compactMap { $0["missionId"]?.int64Value })
        return rewarded.isSuperset(of: ids) && shown.isSuperset(of: ids)
    }
    for (collection, field) in [("rewards", "missionId"), ("wallets", "missionId")] {
        let items = try await api.get("/\(collection)/search/findByCustomerId?customerId=\(customer)&\(size)").items(collection)
        let missions = items.compactMap { $0[field]?.int64Value }
        #expect(missions.count == Set(missions).count, "\(collection): a mission twice in \(missions)", sourceLocation: sourceLocation)
        #expect(Set(missions) == Set(ids), "\(collection) for \(missions.count) missions, expected \(ids.count)", sourceLocation: sourceLocation)
    }
    let rows = try await api.get("/mypages/search/findByCustomerId?customerId=\(customer)&\(size)").items("mypages")
    #expect(rows.count == ids.count, "mypage rows: \(rows.count) for \(ids.count) missions", sourceLocation: sourceLocation)
}

/// Exchanges each entry (retrying what gift's limit turned away) and waits for its reward
/// to follow: the reward's `Exchanged` comes after its `RewardAllocated` on every replica.
func exchangeAll(_ ids: ArraySlice<Int64>, via api: Web) async throws {
    for id in ids {
        try await eventually("exchange of \(id)") { try await api.patch("/wallets/\(id)", GameRewardSeed.exchange).status == 200 }
    }
    for id in ids {
        try await eventually("reward \(id) Exchanged") { try await api.get("/rewards/\(id)").body?["status"] == "Exchanged" }
    }
}

/// How many `RewardAllocated` wallet handled (a redelivery, skipped, is not counted).
func allocations(_ wallet: Web) async throws -> Double {
    try await wallet.metric("msa_events_handled_total", #"group="wallet""#, #"type="RewardAllocated""#)
}

/// The entries among `ids` that are exchanged.
func exchangedEntries(_ ids: [Int64], via api: Web) async throws -> Set<Int64> {
    var exchanged: Set<Int64> = []
    for id in ids where try await api.get("/wallets/\(id)").body?["status"] == "Exchanged" { exchanged.insert(id) }
    return exchanged
}
