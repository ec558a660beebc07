import Chassis
import SystemDriver

/// The Game reward seed's demonstration (`spec/game-reward.md`, "Seed scenario"), step by
/// step through the gateway, stopping and starting reward and gift through the
/// supervisor. Each run achieves new missions, so it passes again on the same data.
struct GameRewardScenario {
    let api: SystemClient
    let control: any SystemControl
    let run = ScenarioRunner()

    func perform() async -> Bool {
        var first: Int64 = 0
        var whileDown: [Int64] = []
        var entry: Int64 = 0
        await run.step("achieve: POST /missions customerId=11 status=Achieved (the seed's command) → 201; reward, wallet entry and rewardId follow") {
            let answer = try await api.post("/missions", GameRewardSeed.mission())
            try expect(answer, 201, "POST /missions")
            first = try answer.id()
            let reward = try await rewardOf(first)
            entry = try await walletEntry(of: first)
            try await api.waitFor("/missions/\(first)", "rewardId", .number(Double(reward)))
            try expect(try await api.get("/rewards/\(reward)"), 200, "GET /rewards/\(reward)")
            try await api.waitFor("/wallets/\(entry)", "status", "Allocated")
            return "mission \(first) → reward \(reward) RewardAllocated → wallet \(entry) Allocated; GET /missions/\(first) has rewardId \(reward)"
        }
        await run.step("reward stopped → the seed's POST /missions costomerId=1 and =2 still 201; no rewardId yet; reward back → rewardIds and wallets") {
            try await control.stop("reward")
            for customer in [1, 2] {
                let answer = try await api.post("/missions", GameRewardSeed.misspeltMission(customerId: customer))
                try expect(answer, 201, "POST /missions costomerId=\(customer) with reward down")
                guard answer.body?["customerId"]?.int64Value == Int64(customer) else { throw StepFailure("customerId not taken from costomerId: \(answer.summary)") }
                whileDown.append(try answer.id())
            }
            let down = try await api.get("/missions/\(whileDown[0])")
            guard down.status == 200, down.body?["rewardId"] == nil || down.body?["rewardId"] == .null else {
                throw StepFailure("GET /missions/\(whileDown[0]) with reward down: \(down.summary)")
            }
            try await control.start("reward")
            var filled: [String] = []
            for mission in whileDown {
                let reward = try await rewardOf(mission)
                try await api.waitFor("/missions/\(mission)", "rewardId", .number(Double(reward)))
                filled.append("\(mission)→\(reward) wallet \(try await walletEntry(of: mission))")
            }
            return "missions \(whileDown) recorded while reward was down, rewarded after it came back: \(filled.joined(separator: ", "))"
        }
        await run.step("gift stopped → exchange (http :8080/wallets/{id} status=Exchanged) is 503 + Retry-After, the entry stays Allocated; gift back → it succeeds") {
            let gifts = try await api.total("/gifts")
            try await control.stop("gift")
            let refused = try await api.patch("/wallets/\(entry)", GameRewardSeed.exchange)
            guard refused.status == 503, let retry = refused.headers["retry-after"] else {
                throw StepFailure("with gift down expected 503 + Retry-After, got \(refused.summary)")
            }
            let kept = try await api.get("/wallets/\(entry)")
            guard kept.body?["status"] == "Allocated" else { throw StepFailure("the entry changed while gift was down: \(kept.summary)") }
            try await control.start("gift")
            // The breaker may have opened: it lets calls through again once gift says it is
            // ready, or after its open period; retry as Retry-After says, within a deadline.
            // The seed's own form of the command, a POST (httpie's default with fields).
            let exchanged = try await eventually("the exchange accepted after gift came back") { () -> Answer? in
                let answer = try await api.post("/wallets/\(entry)", GameRewardSeed.exchange)
                if answer.status == 503 { return nil }
                try expect(answer, 200, "POST /wallets/\(entry) status=Exchanged after gift came back")
                return answer
            }
            guard exchanged.body?["status"] == "Exchanged" else { throw StepFailure("the entry is \(exchanged.summary)") }
            let issued = try await api.total("/gifts")
            guard issued == gifts + 1 else { throw StepFailure("gifts went from \(gifts) to \(issued)") }
            let reward = try await rewardOf(first)
            try await api.waitFor("/rewards/\(reward)", "status", "Exchanged")
            return "503 Retry-After: \(retry) (\(refused.body?["error"]?.stringValue ?? "")); then wallet \(entry) Exchanged, one gift, reward \(reward) Exchanged"
        }
        await run.step("exchanging the same entry again → 409, nothing sent to gift") {
            let gifts = try await api.total("/gifts")
            let again = try await api.patch("/wallets/\(entry)", GameRewardSeed.exchange)
            try expect(again, 409, "PATCH /wallets/\(entry) a second time")
            guard try await api.total("/gifts") == gifts else { throw StepFailure("a second gift was issued") }
            return "409 \(again.body?["error"]?.stringValue ?? "")"
        }
        await run.step("mypage: findByMissionId and findByRewardId show each mission's reward and wallet statuses") {
            let reward = try await rewardOf(first)
            let row = try await eventually("mypage of mission \(first) Exchanged") { () -> JSONValue? in
                let found = try await api.get("/mypages/search/findByMissionId?missionId=\(first)").items("mypages")
                return found.first { $0["walletStatus"] == "Exchanged" && $0["rewardStatus"] == "Exchanged" }
            }
            guard row["missionStatus"] == "Achieved", row["rewardId"]?.int64Value == reward, row["walletId"]?.int64Value == entry else {
                throw StepFailure("mypage row is \(row)")
            }
            let byReward = try await api.get("/mypages/search/findByRewardId?rewardId=\(reward)").items("mypages")
            guard byReward.count == 1, byReward[0]["missionId"]?.int64Value == first else { throw StepFailure("findByRewardId: \(byReward)") }
            for mission in whileDown {
                _ = try await eventually("mypage of mission \(mission) Allocated") { () -> Bool? in
                    let found = try await api.get("/mypages/search/findByMissionId?missionId=\(mission)").items("mypages")
                    return found.first?["walletStatus"] == "Allocated" ? true : nil
                }
            }
            return "mission \(first): Achieved, reward \(reward) Exchanged, wallet \(entry) Exchanged; missions \(whileDown): wallets Allocated"
        }
        print(run.failed == 0 ? "gamereward scenario: all \(run.passed) steps passed" : "gamereward scenario: \(run.failed) of \(run.passed + run.failed) steps failed")
        return run.failed == 0
    }

    /// The id of the reward issued for `mission`, once reward issued it.
    private func rewardOf(_ mission: Int64) async throws -> Int64 {
        try await eventually("the reward of mission \(mission)") { () -> Int64? in
            try await api.get("/rewards/search/findByMissionId?missionId=\(mission)").items("rewards").first?["id"]?.int64Value
        }
    }

    /// The id of the wallet entry holding `mission`'s reward, once wallet holds it.
    private func walletEntry(of mission: Int64) async throws -> Int64 {
        try await eventually("the wallet entry of mission \(mission)") { () -> Int64? in
            try await api.get("/wallets/search/findByMissionId?missionId=\(mission)").items("wallets").first?["id"]?.int64Value
        }
    }
}
