import Chassis
import ChassisTesting
import Foundation
import SystemDriver
import Testing
import Vaccine

/// Vaccine run as a user runs it — `msa up vaccine`, real processes, real ports — and
/// broken on purpose: hospital stopped, reservation slowed past the timeout, stock run
/// dry, consumers killed with SIGKILL; and every log line read for personal numbers.
@Suite("Vaccine system (real processes)", .serialized)
struct VaccineSystemTests {
    /// The seed's demonstration at the most talkative log level (every request's body is
    /// logged at `trace`), plus refusals that carry personal numbers: not one line any
    /// process wrote holds a whole number, while the bodies with masked ones are there.
    @Test func theSeedScenarioPassesAndNoLogLineHoldsAWholePersonalNumber() async throws {
        try await RunningSystem.with("vaccine", environment: ["MSA_LOG_LEVEL": "trace"]) { system in
            let run = try await system.msa(["scenario", "vaccine"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("vaccine scenario: all 8 steps passed"), "\(run.output)")
            let api = system.gateway
            let again = try await api.post("/user/reserve", VaccineSeed.booking("Lee", "930619-2345678"))
            let twice = try await api.post("/user/reserve", VaccineSeed.booking("Lee", "930619-2345678"))
            #expect(again.status == 201 && twice.status == 409, "\(again.text) \(twice.text)")
            for broken in [#"{"userName":"Lee","userRegNumber":"930619-2345678""#, #"{"userName":"Lee","userRegNumber":"930619-9345678"}"#,
                           #"{"userName":"Last","userRegNumber":9306192345678}"#] {
                let refused = try await api.send("POST", "/user/date", raw: ByteBuffer(string: broken))
                #expect(refused.status == 400, "\(refused.text)")
                #expect(!refused.text.contains("9345678"), "a refusal repeats the number: \(refused.text)")
            }
            try await eventually("the last request logged") { system.logText().contains(#""userName":"Last""#) }

            let log = system.logText()
            let whole = wholeResidentNumbers(in: log)
            #expect(whole.isEmpty, "\(whole.count) whole numbers in the log, e.g. \(whole.prefix(3))")
            let bodiesLogged = log.contains(#"userRegNumber":"890309-2******"#)
            #expect(bodiesLogged, "the request bodies were logged, masked")
            for name in ["user", "reservation", "hospital", "stock", "dashboard", "gateway"] {
                #expect(log.split(separator: "\n").contains { $0.hasPrefix(name) && $0.contains("trace") }, "\(name) logged nothing at trace")
            }
        }
    }

    /// Hostile bodies, values, methods, ids and queries on every endpoint: no 5xx, every
    /// 4xx a JSON error, nothing written by a refused request.
    @Test func theFuzzerFindsNoServerErrorAndEveryRefusalIsJSON() async throws {
        try await RunningSystem.with("vaccine") { system in
            let api = system.gateway
            let first = try await book(1, from: 500, via: api)
            try await eventually("the first booking on the dashboard") { try await api.get("/dashboards/\(first[0])").status == 200 }
            let fuzzer = Fuzzer(api: SystemClient(base: api.base), system: vaccine.definition, samples: vaccine.fuzzSamples)
            let (requests, findings) = try await fuzzer.run()
            #expect(requests > 500, "\(requests) requests")
            #expect(findings.isEmpty, "\(findings.count) of \(requests):\n\(findings.prefix(40).map(\.description).joined(separator: "\n"))")
        }
    }

    /// Bookings go on while the hospital is down (the seed's requirement); the dashboard
    /// answers meanwhile; when the hospital is back every booking gets its vaccine and its
    /// dose, once; and the dashboard answers with every other service stopped.
    @Test func bookingsTakenWhileTheHospitalIsDownCatchUpWhenItReturns() async throws {
        try await RunningSystem.with("vaccine") { system in
            let api = system.gateway
            let stock = try await stockTotal(api)
            #expect(try await system.msa(["stop", "vaccine", "hospital"]).status == 0)
            let ids = try await book(10, from: 1000, via: api, lanes: 2)
            for id in ids {
                try await eventually("booking \(id) on the dashboard") { try await api.get("/dashboards/\(id)").body?["reserveStatus"] == "RESERVE" }
            }
            #expect(try await api.get("/dashboards/\(ids[0])").body?["vaccineType"] == nil)
            #expect(try await stockTotal(api) == stock)

            #expect(try await system.msa(["start", "vaccine", "hospital"]).status == 0)
            try await expectEveryBookingCompleteOnce(ids, via: api, stockBefore: stock, after: "the hospital came back")

            // The dashboard is built from events only: it answers with every other service down.
            for name in ["user", "reservation", "hospital", "stock"] { #expect(try await system.msa(["stop", "vaccine", name]).status == 0) }
            #expect(try await api.get("/users/\(ids[0])").status == 503)
            guard case .array(let rows)? = try await api.get("/dashboard/list").body else { throw SystemFailure("no dashboard list") }
            let shown = Set(rows.compactMap { $0["userId"]?.int64Value })
            #expect(shown.isSuperset(of: ids), "\(shown)")
            let notes = try await api.get("/notifications/search/findByUserId?userId=\(ids[0])").items("notifications")
            #expect(notes.count == 2, "\(notes)")
        }
    }

    /// reservation slowed past user's timeout: look-ups answer the last dates marked stale
    /// (or 503 + `Retry-After`), never a 500 and never a hang; bookings are taken without
    /// the date check, and one person sending the same booking many times at once gets one
    /// booking, not one per request.
    @Test func aSlowReservationIsAnsweredByTheFallbackAndNothingIsBookedTwice() async throws {
        try await RunningSystem.with("vaccine", environment: ["RESERVATION_TIMEOUT_MS": "300"]) { system in
            let api = system.gateway
            #expect(try await api.post("/user/date", VaccineSeed.siege).body?["stale"] == false)
            #expect(try await system.msa(["stop", "vaccine", "reservation"]).status == 0)
            #expect(try await system.msa(["start", "vaccine", "reservation", "--set", "RESERVATION_DELAY_MS=600-820"]).status == 0)

            let lookUps = try await concurrently(10) { _ in
                let started = ContinuousClock.now
                let answer = try await api.post("/user/date", VaccineSeed.siege)
                return (answer, ContinuousClock.now - started)
            }
            for (answer, took) in lookUps {
                let fallback = (answer.status == 200 && answer.body?["stale"] == true) || (answer.status == 503 && answer.headers["retry-after"] != nil)
                #expect(fallback, "\(answer.status) \(answer.text)")
                #expect(took < .seconds(3), "a look-up took \(took)")
            }
            #expect(lookUps.contains { $0.0.status == 200 }, "the last dates stood in")

            let same = try await concurrently(8) { _ in try await api.post("/user/reserve", VaccineSeed.booking("Kim", "900101-1000001")) }
            #expect(same.filter { $0.status == 201 }.count == 1, "\(same.map(\.status))")
            #expect(same.allSatisfy { [201, 409].contains($0.status) }, "\(same.map { "\($0.status) \($0.text)" })")
            let id = try #require(same.first { $0.status == 201 }?.body?["id"]?.int64Value)
            try await eventually("the booking on the dashboard, slowed reservation and all") { try await api.get("/dashboards/\(id)").status == 200 }
            #expect(try await api.get("/reservations/search/findByUserId?userId=\(id)").items("reservations").count == 1)
            #expect(try await api.get("/users/search/findByReserveStatus?reserveStatus=RESERVE").items("users").count == 1)
        }
    }

    /// user scaled out, as the seed's autoscaler does: two replicas behind the gateway share
    /// the one store of whole numbers, so one person's identical bookings sent at once to
    /// both still make one booking; each replica answers look-ups.
    @Test func twoUserReplicasStillBookOncePerPerson() async throws {
        try await RunningSystem.with("vaccine", arguments: ["--replicas", "user=2"]) { system in
            let api = system.gateway
            let same = try await concurrently(10) { _ in try await api.post("/user/reserve", VaccineSeed.booking("Park", "880808-2000002")) }
            #expect(same.filter { $0.status == 201 }.count == 1, "\(same.map(\.status))")
            #expect(same.allSatisfy { [201, 409].contains($0.status) }, "\(same.map { "\($0.status) \($0.text)" })")
            for replica in ["user", "user#2"] {
                let direct = try await system.direct(replica)
                let answer = try await direct.post("/user/date", VaccineSeed.siege)
                #expect(answer.status == 200 && answer.body?["stale"] == false, "\(replica): \(answer.text)")
                let bookings = try await direct.get("/users/search/findByReserveStatus?reserveStatus=RESERVE").items("users")
                #expect(bookings.count == 1, "\(replica) sees \(bookings.count) bookings")
            }
        }
    }

    /// One vaccine, two doses: the third booking on is rejected back along the chain with
    /// the reason, every place it held is freed, and the stock never goes below zero.
    @Test func anExhaustedStockRejectsBookingsAlongTheChainAndNeverGoesNegative() async throws {
        try await RunningSystem.with("vaccine", environment: ["VACCINE_TYPE": "Pfizer", "STOCK_INITIAL": "Pfizer=2"]) { system in
            let api = system.gateway
            let ids = try await book(6, from: 2000, via: api, lanes: 3)
            var rejected: [Int64] = []
            for id in ids {
                let status = try await eventually("booking \(id) settled") { () -> String? in
                    let user = try await api.get("/users/\(id)").body
                    let dashboard = try await api.get("/dashboards/\(id)").body
                    if user?["reserveStatus"] == "REJECTED" && dashboard?["reserveStatus"] == "REJECTED" { return "REJECTED" }
                    if dashboard?["vaccineType"] == "Pfizer", try await api.get("/stocks/search/findByUserId?userId=\(id)").items("stocks").count == 1 {
                        return "RESERVE"
                    }
                    return nil
                }
                if status == "REJECTED" {
                    rejected.append(id)
                    #expect(try await api.get("/users/\(id)").body?["rejectReason"] == "no Pfizer dose is left in stock")
                    #expect(try await api.get("/hospitals/\(id)").body?["reserveStatus"] == "REJECTED")
                    #expect(try await api.get("/reservations/\(id)").body?["reserveStatus"] == "REJECTED")
                }
            }
            #expect(rejected.count == 4, "\(rejected)")
            #expect(try await api.get("/stock/Pfizer").body?["stock"] == 0)
            let booked = try await api.get("/reservation/date/2021-10-05").body?["booked"]?.int64Value
            #expect(booked == 2, "the rejected bookings' places are free again")
            let notes = try await api.get("/notifications/search/findByUserId?userId=\(rejected[0])").items("notifications")
            #expect(notes.contains { $0["message"]?.stringValue?.contains("rejected: no Pfizer dose is left in stock") == true }, "\(notes)")
        }
    }

    /// Cancellations with the services that carry them SIGKILLed the moment they commit:
    /// every dose comes back exactly once, however often its event is delivered.
    @Test func cancellationsRestoreTheStockExactlyOnceThroughCrashes() async throws {
        try await RunningSystem.with("vaccine") { system in
            let api = system.gateway
            let stock = try await stockTotal(api)
            let ids = try await book(12, from: 3000, via: api, lanes: 3)
            try await expectEveryBookingCompleteOnce(ids, via: api, stockBefore: stock, after: "booking")
            _ = try await concurrently(3) { lane in
                for id in stride(from: lane, to: ids.count, by: 3).map({ ids[$0] }) {
                    let cancelled = try await api.post("/user/cancel", VaccineSeed.user(id))
                    guard cancelled.status == 200 else { throw SystemFailure("cancel \(id): \(cancelled.text)") }
                }
            }
            for name in ["reservation", "hospital", "stock"] { try await system.crash(name) }
            try await eventually("every dose back", timeout: .seconds(60)) { try await stockTotal(api) == stock }
            for id in ids {
                let movements = try await api.get("/stocks/search/findByUserId?userId=\(id)").items("stocks").compactMap { $0["vaccineCount"]?.int64Value }
                #expect(movements.sorted() == [-1, 1], "user \(id): \(movements)")
                try await eventually("user \(id) cancelled on the dashboard") { try await api.get("/dashboards/\(id)").body?["reserveStatus"] == "CANCEL" }
            }
            #expect(try await api.get("/reservation/date/2021-10-05").body?["booked"] == 0)
        }
    }

    /// user, reservation, hospital, stock and dashboard are SIGKILLed right after the last
    /// booking commits: the supervisor restarts them and every view is complete, once.
    @Test func servicesKilledRightAfterCommitsLoseAndDoubleNothing() async throws {
        try await RunningSystem.with("vaccine") { system in
            let api = system.gateway
            let stock = try await stockTotal(api)
            let ids = try await book(30, from: 4000, via: api, lanes: 6)
            for name in ["user", "reservation", "hospital", "stock", "dashboard"] { try await system.crash(name) }
            try await expectEveryBookingCompleteOnce(ids, via: api, stockBefore: stock, after: "the restarts", within: .seconds(60))
            let restarts = try await system.msa(["ps", "vaccine"]).output
            #expect(restarts.split(separator: "\n").filter { $0.hasSuffix(" 1") }.count == 5, "\(restarts)")
        }
    }
}

// MARK: - Steps

/// A valid resident number no other test uses: born 1980-01-01, serial `serial`.
func residentNumber(_ serial: Int) -> String {
    let digits = String(serial)
    return "800101-1" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
}

/// Books 2021-10-05 for `count` people (serials from `first`) over `lanes` concurrent
/// clients; returns their booking (user) ids.
func book(_ count: Int, from first: Int, via api: Web, lanes: Int = 1) async throws -> [Int64] {
    try await concurrently(lanes) { lane in
        var ids: [Int64] = []
        for serial in stride(from: first + lane, to: first + count, by: lanes) {
            let answer = try await api.post("/user/reserve", VaccineSeed.booking("Person \(serial)", residentNumber(serial)))
            guard answer.status == 201, let id = answer.body?["id"]?.int64Value else { throw SystemFailure("POST /user/reserve: \(answer.status) \(answer.text)") }
            ids.append(id)
        }
        return ids
    }.flatMap { $0 }
}

/// Waits until every booking of `ids` has its hospital booking, its dose and its dashboard
/// row with the vaccine, then checks that none has two: one dose per booking, the stock
/// down by exactly one each, two notifications each (booked, expected at the hospital).
func expectEveryBookingCompleteOnce(_ ids: [Int64], via api: Web, stockBefore: Int64, after what: String, within timeout: Duration = .seconds(30),
                                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
    try await eventually("every booking complete after \(what)", timeout: timeout) {
        for id in ids {
            guard try await api.get("/dashboards/\(id)").body?["vaccineType"]?.stringValue != nil,
                  try await api.get("/stocks/search/findByUserId?userId=\(id)").items("stocks").count > 0 else { return false }
        }
        return try await stockTotal(api) == stockBefore - Int64(ids.count)
    }
    for id in ids {
        let movements = try await api.get("/stocks/search/findByUserId?userId=\(id)").items("stocks")
        #expect(movements.count == 1, "user \(id): \(movements.count) movements", sourceLocation: sourceLocation)
        #expect(try await api.get("/reservations/search/findByUserId?userId=\(id)").items("reservations").count == 1, sourceLocation: sourceLocation)
        let notes = try await api.get("/notifications/search/findByUserId?userId=\(id)").items("notifications")
        #expect(notes.count == 2, "user \(id): \(notes.compactMap { $0["message"]?.stringValue })", sourceLocation: sourceLocation)
    }
    #expect(try await api.get("/hospitals?size=1").body?["page"]?["totalElements"]?.int64Value ?? 0 >= Int64(ids.count), sourceLocation: sourceLocation)
}

/// The doses in stock, all types together.
func stockTotal(_ api: Web) async throws -> Int64 {
    guard case .array(let levels)? = try await api.get("/stock").body?["stock"] else { throw SystemFailure("no stock levels") }
    return levels.compactMap { $0["stock"]?.int64Value }.reduce(0, +)
}

/// Every whole resident number in `text` (`YYMMDD-NNNNNNN`, or 13 digits together).
func wholeResidentNumbers(in text: String) -> [String] {
    // Why `try!`: the pattern is a constant that compiles.
    let pattern = try! NSRegularExpression(pattern: #"(?<![0-9])([0-9]{6}-[0-9]{7}|[0-9]{13})(?![0-9])"#)
    return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { Range($0.range, in: text).map { String(text[$0]) } }
}
