import Chassis
import SystemDriver

/// Game reward's workload: each client is a customer who achieves missions, reads their
/// mypage and, every other time, exchanges the reward of a mission two iterations old for
/// a gift (gateway → wallet → gift, synchronous). Every 8th mission it polls the wallet
/// entry (every 5 ms) until it exists: the mission → wallet-entry lag as a customer sees
/// it (mission's outbox, the log, reward's consumer and outbox, the log, wallet's
/// consumer), from the 201 to the first read that has it. (A second probe, mypage until it
/// shows the entry, one hop more, doubled the probes' share of the load: about one poll
/// for each mission.)
///
/// Entry ids are mission ids (one reward per mission, one entry per reward, see
/// `Reward` and `Wallet`), so a customer reads `GET /wallets/{missionId}`.
///
/// Exchanges pass gift's limit of one pending call (and one waiting), the seed's rule:
/// with many clients most are turned away with 503 + `Retry-After`, counted in rows of
/// their own. `GIFT_MAX_CONCURRENT` raises the limit.
struct GameRewardBench: Workload {
    let api: SystemClient
    let clients: Int
    var headline: String { "mission" }

    func client(_ index: Int, until deadline: ContinuousClock.Instant, progress: BenchProgress) async -> Tally {
        var tally = Tally()
        let calls = BenchCalls(progress: progress)
        var missions: [Int64] = []
        var iteration = 0
        while ContinuousClock.now < deadline {
            iteration += 1
            let measuring = progress.isMeasuring
            guard let id = await calls.create("mission", into: &tally, measuring, {
                try await api.post("/missions", GameRewardSeed.mission(customerId: 1000 + index))
            }) else { continue }
            let achieved = ContinuousClock.now
            missions.append(id)
            if iteration % 8 == 0 {
                await calls.lag("wallet lag", since: achieved, into: &tally, measuring) { (try? await api.get("/wallets/\(id)").status) == 200 }
            } else if missions.count > 4 {
                // A mission four iterations old: its row has had time to show (a newer one
                // may not be there yet, which is the lag measured above, not an error).
                _ = await calls.call("mypage read", into: &tally, measuring, expect: 200) { try await api.get("/mypages/\(missions[missions.count - 5])") }
            }
            if iteration % 2 == 0, missions.count > 2 {
                _ = await calls.call("exchange", into: &tally, measuring, expect: 200) {
                    try await api.patch("/wallets/\(missions[missions.count - 3])", GameRewardSeed.exchange)
                }
            }
        }
        return tally
    }
}
