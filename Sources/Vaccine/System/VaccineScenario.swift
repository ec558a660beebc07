import Chassis
import SystemDriver

/// The Vaccine seed's demonstration (`spec/vaccine.md`), step by step through the gateway:
/// look up dates, book, inject; hospital stopped and started while bookings go on;
/// cancel with compensation; the date look-up with reservation slowed past its timeout and
/// stopped. Every booking it leaves is injected or cancelled, so it passes again on the
/// same data.
struct VaccineScenario {
    let api: SystemClient
    let control: any SystemControl
    let run = ScenarioRunner()

    func perform() async -> Bool {
        var taeyeon: Int64 = 0
        var jieun: Int64 = 0
        await run.step("look up dates: POST /user/date {Taeyeon Kim, 890309-2766876} → 200, 2021-10-05 open, the number masked") {
            let answer = try await api.post("/user/date", VaccineSeed.person())
            try expect(answer, 200, "POST /user/date")
            guard answer.body?["userRegNumber"] == "890309-2******", answer.body?["stale"] == false else { throw StepFailure("answer: \(answer.summary)") }
            let dates = answer.list("dates").compactMap { $0["reserveDate"]?.stringValue }
            guard dates.contains("2021-10-05") else { throw StepFailure("2021-10-05 is not among \(dates)") }
            return "\(dates.count) open dates, \(dates.first ?? "")…\(dates.last ?? ""); userRegNumber \(answer.body?["userRegNumber"]?.stringValue ?? "")"
        }
        await run.step("book: POST /user/reserve 2021-10-05 → 201 RESERVE; the hospital picks a vaccine, stock -1, dashboard shows it") {
            let before = try await stockTotal()
            let answer = try await api.post("/user/reserve", VaccineSeed.booking())
            try expect(answer, 201, "POST /user/reserve")
            guard answer.body?["reserveStatus"] == "RESERVE", answer.body?["userRegNumber"] == "890309-2******" else { throw StepFailure("booking: \(answer.summary)") }
            taeyeon = try answer.id()
            let row = try await dashboardRow(taeyeon) { $0["vaccineType"]?.stringValue != nil }
            try await eventually("stock -1 for user \(taeyeon)") { try await stockTotal() == before - 1 }
            return "user \(taeyeon) RESERVE; dashboard: \(row["vaccineType"]?.stringValue ?? "") at \(row["hospitalName"]?.stringValue ?? ""); stock \(before) → \(before - 1)"
        }
        await run.step("the same person books again while the booking is active → 409, nothing booked") {
            let users = try await api.total("/users")
            let again = try await api.post("/user/reserve", VaccineSeed.booking())
            try expect(again, 409, "a second POST /user/reserve")
            guard try await api.total("/users") == users else { throw StepFailure("a second booking was recorded") }
            return "409 \(again.body?["error"]?.stringValue ?? "")"
        }
        await run.step("inject: POST /hospital/inject {userId} → 200 INJECT; user and dashboard INJECT with the vaccine") {
            let injected = try await eventually("the injection of user \(taeyeon)") { () -> Answer? in
                let answer = try await api.post("/hospital/inject", VaccineSeed.user(taeyeon))
                if answer.status == 409, answer.body?["error"]?.stringValue?.contains("not yet confirmed") == true { return nil }
                try expect(answer, 200, "POST /hospital/inject")
                return answer
            }
            try await api.waitFor("/users/\(taeyeon)", "reserveStatus", "INJECT")
            let row = try await dashboardRow(taeyeon) { $0["reserveStatus"] == "INJECT" }
            let cancel = try await api.post("/user/cancel", VaccineSeed.user(taeyeon))
            try expect(cancel, 409, "cancelling after the injection")
            return "hospital INJECT (\(injected.body?["vaccineType"]?.stringValue ?? "")); user INJECT; dashboard injectDate \(row["injectDate"]?.stringValue ?? ""); a cancel now is 409"
        }
        await run.step("hospital stopped → POST /user/reserve (Jieun Lee) still 201, the dashboard answers; hospital back → vaccine chosen, stock -1") {
            try await control.stop("hospital")
            let before = try await stockTotal()
            let answer = try await api.post("/user/reserve", VaccineSeed.booking(VaccineSeed.jieun.name, VaccineSeed.jieun.booking))
            try expect(answer, 201, "POST /user/reserve with hospital down")
            jieun = try answer.id()
            let waiting = try await dashboardRow(jieun) { $0["reserveStatus"] == "RESERVE" }
            guard waiting["vaccineType"] == nil || waiting["vaccineType"] == .null else { throw StepFailure("a vaccine was chosen with hospital down: \(waiting)") }
            try await control.start("hospital")
            let row = try await dashboardRow(jieun) { $0["vaccineType"]?.stringValue != nil }
            try await eventually("stock -1 for user \(jieun)") { try await stockTotal() == before - 1 }
            return "user \(jieun) RESERVE with hospital down (dashboard: no vaccine yet); after it came back: \(row["vaccineType"]?.stringValue ?? "")"
        }
        await run.step("cancel: POST /user/cancel {userId} → CANCEL → reservation → hospital → stock +1, exactly once") {
            let before = try await stockTotal()
            let answer = try await api.post("/user/cancel", VaccineSeed.user(jieun))
            try expect(answer, 200, "POST /user/cancel")
            guard answer.body?["reserveStatus"] == "CANCEL" else { throw StepFailure("cancel: \(answer.summary)") }
            _ = try await dashboardRow(jieun) { $0["reserveStatus"] == "CANCEL" }
            try await api.waitFor("/hospitals/\(jieun)", "reserveStatus", "CANCEL")
            try await eventually("stock +1 for user \(jieun)") { try await stockTotal() == before + 1 }
            let notes = try await api.get("/notifications/search/findByUserId?userId=\(jieun)").items("notifications").compactMap { $0["message"]?.stringValue }
            guard notes.contains(where: { $0.contains("cancelled") }) else { throw StepFailure("notifications: \(notes)") }
            return "CANCEL everywhere; stock \(before) → \(before + 1); notifications: \(notes.joined(separator: " / "))"
        }
        await run.step("reservation slowed past the 810 ms timeout (RESERVATION_DELAY_MS=1000) → POST /user/date answers the last dates, marked stale, never a 500") {
            try await control.stop("reservation")
            try await control.start("reservation", settings: ["RESERVATION_DELAY_MS": "1000"])
            var answers: [String] = []
            for _ in 0..<3 {
                let started = ContinuousClock.now
                let answer = try await api.post("/user/date", VaccineSeed.siege)
                let took = ContinuousClock.now - started
                guard answer.status == 200, answer.body?["stale"] == true, !answer.list("dates").isEmpty else {
                    throw StepFailure("with reservation slowed: \(answer.summary)")
                }
                guard took < .seconds(3) else { throw StepFailure("the look-up took \(took)") }
                answers.append("200 stale in \(took.wholeMilliseconds) ms")
            }
            try await control.stop("reservation")
            let down = try await api.post("/user/date", VaccineSeed.person(VaccineSeed.jieun.name, VaccineSeed.jieun.lookUp))
            guard down.status == 200, down.body?["stale"] == true else { throw StepFailure("with reservation down: \(down.summary)") }
            try await control.start("reservation")
            let fresh = try await eventually("a fresh look-up after reservation came back") { () -> Answer? in
                let answer = try await api.post("/user/date", VaccineSeed.person())
                return answer.status == 200 && answer.body?["stale"] == false ? answer : nil
            }
            return "slowed: \(answers.joined(separator: ", ")); stopped: 200 stale (asOf \(down.body?["asOf"]?.stringValue ?? "")); back: fresh, \(fresh.list("dates").count) dates"
        }
        await run.step("dashboard: GET /dashboard/list and /dashboard/list/{vaccineType} answer arrays, numbers masked") {
            let all = try await api.get("/dashboard/list")
            try expect(all, 200, "GET /dashboard/list")
            guard case .array(let rows)? = all.body, rows.contains(where: { $0["userId"]?.int64Value == taeyeon }) else { throw StepFailure("list: \(all.summary)") }
            guard let type = rows.first(where: { $0["userId"]?.int64Value == taeyeon })?["vaccineType"]?.stringValue else { throw StepFailure("no vaccine type") }
            let byType = try await api.get("/dashboard/list/\(type)")
            guard case .array(let typed)? = byType.body, typed.allSatisfy({ $0["vaccineType"]?.stringValue == type }) else { throw StepFailure("by type: \(byType.summary)") }
            guard !all.text.contains("890309-2766876") else { throw StepFailure("a whole personal number in the dashboard") }
            return "\(rows.count) rows; \(typed.count) with \(type)"
        }
        print(run.failed == 0 ? "vaccine scenario: all \(run.passed) steps passed" : "vaccine scenario: \(run.failed) of \(run.passed + run.failed) steps failed")
        return run.failed == 0
    }

    /// The dashboard's row of `userId` once `holds` is true of it.
    private func dashboardRow(_ userId: Int64, _ holds: @escaping (JSONValue) -> Bool) async throws -> JSONValue {
        try await eventually("dashboard row of user \(userId)") { () -> JSONValue? in
            let answer = try await api.get("/dashboards/\(userId)")
            return answer.status == 200 && holds(answer.body ?? .null) ? answer.body : nil
        }
    }

    /// The doses in stock, all types together.
    private func stockTotal() async throws -> Int64 {
        let answer = try await api.get("/stock")
        try expect(answer, 200, "GET /stock")
        return answer.list("stock").compactMap { $0["stock"]?.int64Value }.reduce(0, +)
    }
}
