import Chassis
import SystemDriver

/// The Rental seed's demonstration (`spec/rental.md`, "Seed scenario"), step by step
/// through the gateway, stopping and starting services through the supervisor. Each
/// run makes new requests, so it passes again on the same data.
struct RentalScenario {
    let api: SystemClient
    let control: any SystemControl
    let run = ScenarioRunner()

    static let seedRequest = RentalSeed.request()

    func perform() async -> Bool {
        var first: Int64 = 0
        var second: Int64 = 0
        await run.step("request + pay: POST /reserves (the seed's command) → 201") {
            let answer = try await api.post("/reserves", Self.seedRequest)
            try expect(answer, 201, "POST /reserves")
            first = try answer.id()
            guard answer.body?["status"] == "Paid" else { throw StepFailure("status is \(answer.body?["status"] ?? nil), not Paid") }
            return "reserve \(first) Paid, Location \(answer.headers["location"] ?? "missing")"
        }
        await run.step("GET /reserves/{id} and GET /payments/{id} show the request and its payment") {
            try expect(try await api.get("/reserves/\(first)"), 200, "GET /reserves/\(first)")
            let payment = try await api.get("/payments/\(first)")
            try expect(payment, 200, "GET /payments/\(first)")
            guard payment.body?["paymentAction"] == "Approved", payment.body?["price"]?.int64Value == 20000 else {
                throw StepFailure("payment is \(payment.summary)")
            }
            return "payment \(first) Approved, 20000 won"
        }
        await run.step("lender confirms: POST /lends matchId lender=andy → 201; reserve and mypage show Matched") {
            try await waitInRequestList(first)
            try expect(try await api.post("/lends", ["matchId": .string(String(first)), "lender": "andy"]), 201, "POST /lends")
            try await api.waitFor("/reserves/\(first)", "status", "Matched")
            try await api.waitFor("/mypages/\(first)", "status", "Matched")
            return "reserve \(first) and mypage \(first) Matched"
        }
        await run.step("payment stopped → POST /reserves answers 503 + Retry-After, nothing half-done; payment back → 201") {
            try await control.stop("payment")
            let before = try await api.total("/reserves")
            let refused = try await api.post("/reserves", Self.seedRequest)
            guard refused.status == 503, let retry = refused.headers["retry-after"] else {
                throw StepFailure("with payment down expected 503 + Retry-After, got \(refused.summary)")
            }
            let after = try await api.total("/reserves")
            guard after == before else { throw StepFailure("reserves went from \(before) to \(after) while payment was down") }
            try await control.start("payment")
            // If reserve's breaker opened, it lets calls through again after its open
            // period: retry as Retry-After says, within a deadline.
            let accepted = try await eventually("POST /reserves accepted after payment came back") { () -> Answer? in
                let answer = try await api.post("/reserves", Self.seedRequest)
                if answer.status == 503 { return nil }
                try expect(answer, 201, "POST /reserves after payment came back")
                return answer
            }
            return "503 Retry-After: \(retry) (\(refused.body?["error"]?.stringValue ?? "")); then reserve \(try accepted.id()) Paid"
        }
        await run.step("lend stopped → POST /reserves still 201 and paid; lend back → its list catches up; Safemate matches") {
            try await control.stop("lend")
            let accepted = try await api.post("/reserves", Self.seedRequest)
            try expect(accepted, 201, "POST /reserves with lend down")
            second = try accepted.id()
            try expect(try await api.get("/payments/\(second)"), 200, "GET /payments/\(second) with lend down")
            let down = try await api.get("/requestLists/\(second)")
            guard down.status == 503 else { throw StepFailure("GET /requestLists with lend down: expected 503, got \(down.summary)") }
            try await control.start("lend")
            try await waitInRequestList(second)
            try expect(try await api.post("/lends", ["matchId": .string(String(second)), "lender": "Safemate"]), 201, "POST /lends Safemate")
            try await api.waitFor("/reserves/\(second)", "status", "Matched")
            return "reserve \(second) paid while lend was down, listed after restart, matched by Safemate"
        }
        await run.step("cancel: PATCH /reserves/{id} status=Cancel → refund and match cancelled follow") {
            let answer = try await api.patch("/reserves/\(second)", ["status": "Cancel"])
            try expect(answer, 200, "PATCH /reserves/\(second)")
            try await api.waitFor("/payments/\(second)", "paymentAction", "Cancelled")
            try await api.waitFor("/requestLists/\(second)", "status", "Cancelled")
            _ = try await eventually("mypage \(second) Cancelled, with the refund and the cancelled match in its history") { () -> Bool? in
                let row = try await api.get("/mypages/\(second)")
                let history = Set((try? await self.history(second)) ?? [])
                return row.body?["status"] == "Cancelled" && history.isSuperset(of: ["Refunded", "MatchCancelled"]) ? true : nil
            }
            return "reserve \(second) Cancelled, payment refunded, match cancelled; mypage says Cancelled"
        }
        await run.step("mypage shows every status change; notifications tell andy") {
            let firstHistory = try await history(first)
            let secondHistory = try await history(second)
            guard Set(firstHistory) == ["Requested", "Paid", "Matched"] else { throw StepFailure("mypage \(first) history is \(firstHistory)") }
            let cancelled: Set = ["Requested", "Paid", "Matched", "Cancelled", "Refunded", "MatchCancelled"]
            guard Set(secondHistory) == cancelled else { throw StepFailure("mypage \(second) history is \(secondHistory)") }
            let messages = try await eventually("andy's notifications about \(second)") { () -> [JSONValue]? in
                let list = try await api.get("/notifications?customer=andy&matchId=\(second)&size=100")
                let items = list.items("notifications")
                return items.count >= 5 ? items : nil
            }
            return "\(first): \(firstHistory.joined(separator: "→")); \(second): \(secondHistory.joined(separator: "→")); \(messages.count) notifications"
        }
        print(run.failed == 0 ? "rental scenario: all \(run.passed) steps passed" : "rental scenario: \(run.failed) of \(run.passed + run.failed) steps failed")
        return run.failed == 0
    }

    private func waitInRequestList(_ id: Int64) async throws {
        _ = try await eventually("request \(id) in lend's request list") { () -> Bool? in
            try await api.get("/requestLists/\(id)").status == 200 ? true : nil
        }
    }

    private func history(_ id: Int64) async throws -> [String] {
        let answer = try await api.get("/mypages/\(id)")
        guard case .array(let items)? = answer.body?["history"] else { throw StepFailure("no history in \(answer.summary)") }
        return items.compactMap(\.stringValue)
    }
}
