import Chassis
import SystemDriver

/// Rental's workload: each client is a customer who requests and pays, reads mypage and,
/// every other time, confirms an earlier request as a lender (so each paid request comes
/// with about 2.5 calls through the gateway). Every 8th request it
/// polls mypage until the new request shows there: the event-to-view lag as a customer
/// sees it, from the 201 to the first read that has it (polling adds at most ~1 ms).
struct RentalBench: Workload {
    let api: SystemClient
    let clients: Int
    var headline: String { "request+pay" }

    func client(_ index: Int, until deadline: ContinuousClock.Instant, progress: BenchProgress) async -> Tally {
        var tally = Tally()
        var paid: [Int64] = []
        var iteration = 0
        while ContinuousClock.now < deadline {
            iteration += 1
            let measuring = progress.isMeasuring
            let started = ContinuousClock.now
            guard let id = await call("request+pay", into: &tally, measuring, progress: progress, expect: 201, {
                try await api.post("/reserves", RentalSeed.request(customer: "bench-\(index)"))
            })?.body?["id"]?.int64Value else { continue }
            if measuring {
                tally.record("request+pay", since: started)
                progress.done.add(1, ordering: .relaxed)
            }
            paid.append(id)
            if iteration % 8 == 0 {
                await lag(of: id, into: &tally, measuring)
            } else if paid.count > 4 {
                // A request four iterations old: the view has had time to show it (a newer
                // one may not be there yet, which is the lag measured above, not an error).
                _ = await call("mypage read", into: &tally, measuring, progress: progress, expect: 200) { try await api.get("/mypages/\(paid[paid.count - 5])") }
            }
            if iteration % 2 == 0, paid.count > 2 {
                let matchId = paid[paid.count - 3]
                _ = await call("lender confirm", into: &tally, measuring, progress: progress, expect: 201) {
                    try await api.post("/lends", ["matchId": .string(String(matchId)), "lender": .string("lender-\(index)")])
                }
            }
        }
        return tally
    }

    /// Makes one call, recording its latency under `name` (the caller records request+pay
    /// itself, after it knows the answer carries an id); nil when it failed.
    private func call(_ name: String, into tally: inout Tally, _ measuring: Bool, progress: BenchProgress, expect status: Int,
                      _ body: () async throws -> Answer) async -> Answer? {
        let started = ContinuousClock.now
        do {
            let answer = try await body()
            if answer.status == 503, answer.headers["retry-after"] != nil {
                // Turned away as designed (bulkhead, breaker, a payment too slow): its own
                // row, by reason, with how fast the answer came; not an error.
                if measuring { tally.record("\(name) 503 \(Self.reason(answer))", since: started) }
                return nil
            }
            guard answer.status == status else { throw StepFailure(answer.summary) }
            if measuring && name != "request+pay" { tally.record(name, since: started) }
            return answer
        } catch {
            if measuring {
                tally.failed(name)
                progress.errors.add(1, ordering: .relaxed)
            }
            return nil
        }
    }

    /// Why a 503 came, in a word: what the refusal's message names.
    static func reason(_ answer: Answer) -> String {
        let message = answer.body?["error"]?.stringValue ?? ""
        for (words, reason) in [("no slot", "bulkhead wait"), ("concurrent", "bulkhead full"), ("circuit", "breaker"), ("timed out", "timeout")] where message.contains(words) {
            return reason
        }
        return "other"
    }

    private func lag(of id: Int64, into tally: inout Tally, _ measuring: Bool) async {
        let paidAt = ContinuousClock.now
        while paidAt.duration(to: .now) < .seconds(10) {
            if (try? await api.get("/mypages/\(id)").status) == 200 {
                if measuring { tally.record("mypage lag", since: paidAt) }
                return
            }
            try? await LoopTimer.sleep(for: .milliseconds(1))
        }
        if measuring { tally.failed("mypage lag") }
    }
}
