import Chassis
import SystemDriver

/// Vaccine's workload: each client is a stream of people. Each looks up the open dates
/// (user → reservation, synchronous) and books one of them; the booking of eight people
/// back is then cancelled, or, one time in eight, injected, so places and doses come back
/// and the calendar does not fill. Every 8th booking polls the dashboard (every 5 ms)
/// until it shows the booking: the booking → dashboard lag as a person sees it (user's
/// outbox, the log, reservation's consumer and outbox, the log, dashboard's consumer).
///
/// Each person has a number of their own: a birth date per client and a serial per
/// iteration, so no two active bookings share one (which would be a 409).
struct VaccineBench: Workload {
    let api: SystemClient
    let clients: Int
    var headline: String { "booking" }

    func client(_ index: Int, until deadline: ContinuousClock.Instant, progress: BenchProgress) async -> Tally {
        var tally = Tally()
        let calls = BenchCalls(progress: progress)
        var booked: [Int64] = []
        var iteration = 0
        while ContinuousClock.now < deadline {
            iteration += 1
            let measuring = progress.isMeasuring
            let person = Self.person(client: index, serial: iteration)
            guard let dates = await calls.call("date look-up", into: &tally, measuring, expect: 200, {
                try await api.post("/user/date", VaccineSeed.person(person.name, person.number))
            })?.list("dates").compactMap({ $0["reserveDate"]?.stringValue }), !dates.isEmpty else { continue }
            guard let id = await calls.create("booking", into: &tally, measuring, {
                try await api.post("/user/reserve", VaccineSeed.booking(person.name, person.number, on: dates[iteration % dates.count]))
            }) else { continue }
            let accepted = ContinuousClock.now
            booked.append(id)
            if iteration % 8 == 0 {
                await calls.lag("dashboard lag", since: accepted, into: &tally, measuring) { (try? await api.get("/dashboards/\(id)").status) == 200 }
            }
            if booked.count > 8 {
                let earlier = booked.removeFirst()
                if iteration % 8 == 3 {
                    _ = await calls.call("inject", into: &tally, measuring, expect: 200) { try await api.post("/hospital/inject", VaccineSeed.user(earlier)) }
                } else {
                    _ = await calls.call("cancel", into: &tally, measuring, expect: 200) { try await api.post("/user/cancel", VaccineSeed.user(earlier)) }
                }
            }
        }
        return tally
    }

    /// A valid, distinct resident number for (client, serial): born in 1950 + client's
    /// day offset, serial in the last six digits.
    static func person(client: Int, serial: Int) -> (name: String, number: String) {
        let birth = CalendarDay(year: 1950, month: 1, day: 1)!.adding(days: client * 97 % 20000)
        let yy = birth.year % 100, mm = birth.month, dd = birth.day
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let serialText = String(serial % 1_000_000)
        let digits = String(repeating: "0", count: 6 - serialText.count) + serialText
        return ("Bench \(client)", "\(two(yy))\(two(mm))\(two(dd))-\(client % 2 + 1)\(digits)")
    }
}

/// The seed's overload experiment (`msa bench vaccine --workload lookups`): each client
/// sends the seed's siege body, `POST /user/date {"userName":"Lee",…}`, back to back, as
/// `siege -c10` and `-c100` did, with reservation slowed to 600–820 ms and user's timeout
/// at 810 ms (`msa stop vaccine reservation; msa start vaccine reservation --set
/// RESERVATION_DELAY_MS=600-820`). Every answer counts under `answered` when it carries
/// dates, and in a row of its kind: `fresh`, `stale` (the fallback: the dates reservation
/// gave before), or `503 <reason>` (no dates kept to stand in); anything else is an error.
struct VaccineLookUpFlood: Workload {
    let api: SystemClient
    let clients: Int
    var headline: String { "answered" }

    func client(_ index: Int, until deadline: ContinuousClock.Instant, progress: BenchProgress) async -> Tally {
        var tally = Tally()
        while ContinuousClock.now < deadline {
            let measuring = progress.isMeasuring
            let started = ContinuousClock.now
            let answer = try? await api.post("/user/date", VaccineSeed.siege)
            guard measuring else { continue }
            switch (answer?.status, answer?.body?["stale"]) {
            case (200, .bool(let stale)?):
                tally.record("answered", since: started)
                tally.record(stale ? "stale" : "fresh", since: started)
                progress.done.add(1, ordering: .relaxed)
            case (503, _) where answer?.headers["retry-after"] != nil:
                tally.record("503 \(BenchCalls.reason(answer!))", since: started)
            default:
                tally.failed("answered")
                progress.errors.add(1, ordering: .relaxed)
            }
        }
        return tally
    }
}
