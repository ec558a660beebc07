import Chassis
import SystemDriver

/// Rental's workload: each client is a customer who requests and pays, reads mypage and,
/// every other time, confirms an earlier request as a lender (so each paid request comes
/// with about 2.5 calls through the gateway). Every 8th request it
/// polls mypage until the new request shows there: the event-to-view lag as a customer
/// sees it, from the 201 to the first read that has it (polling adds at most ~5 ms).
struct RentalBench: Workload {
    let api: SystemClient
    let clients: Int
    var headline: String { "request+pay" }

    func client(_ index: Int, until deadline: ContinuousClock.Instant, progress: BenchProgress) async -> Tally {
        var tally = Tally()
        let calls = BenchCalls(progress: progress)
        var paid: [Int64] = []
        var iteration = 0
        while ContinuousClock.now < deadline {
            iteration += 1
            let measuring = progress.isMeasuring
            guard let id = await calls.create("request+pay", into: &tally, measuring, {
                try await api.post("/reserves", RentalSeed.request(customer: "bench-\(index)"))
            }) else { continue }
            paid.append(id)
            if iteration % 8 == 0 {
                await calls.lag("mypage lag", since: .now, into: &tally, measuring) { (try? await api.get("/mypages/\(id)").status) == 200 }
            } else if paid.count > 4 {
                // A request four iterations old: the view has had time to show it (a newer
                // one may not be there yet, which is the lag measured above, not an error).
                _ = await calls.call("mypage read", into: &tally, measuring, expect: 200) { try await api.get("/mypages/\(paid[paid.count - 5])") }
            }
            if iteration % 2 == 0, paid.count > 2 {
                let matchId = paid[paid.count - 3]
                _ = await calls.call("lender confirm", into: &tally, measuring, expect: 201) {
                    try await api.post("/lends", ["matchId": .string(String(matchId)), "lender": .string("lender-\(index)")])
                }
            }
        }
        return tally
    }
}
