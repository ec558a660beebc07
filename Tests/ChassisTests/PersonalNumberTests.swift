import Chassis
import Testing

/// A Korean resident registration number is validated before anything keeps it, and a
/// refusal says what is wrong without repeating it.
@Suite struct PersonalNumberTests {
    static let today = CalendarDay(year: 2021, month: 9, day: 30)!

    @Test(arguments: [
        ("890309-2766876", "890309-2******", 1989),
        ("930619-2345678", "930619-2******", 1993),
        ("000229-3123456", "000229-3******", 2000),
        ("210930-4000001", "210930-4******", 2021),
        ("010101-1000000", "010101-1******", 1901),
    ])
    func aValidNumberIsKeptWholeAndShownMasked(_ text: String, _ masked: String, _ year: Int) throws {
        let number = try KoreanResidentNumber(text, field: "userRegNumber", today: Self.today)
        #expect(number.whole == text)
        #expect(number.masked == masked)
        #expect("\(number)" == masked, "its description is masked")
        #expect(number.birthDate.year == year)
    }

    @Test(arguments: [
        ("", "six digits, a hyphen, seven digits"),
        ("8903092766876", "the hyphen after the birth date is missing"),
        ("890309 2766876", "six digits, a hyphen, seven digits"),
        ("890309-276687", "six digits, a hyphen, seven digits"),
        ("890309-27668761", "six digits, a hyphen, seven digits"),
        ("89030-92766876", "six digits, a hyphen, seven digits"),
        ("890309-2766a76", "six digits, a hyphen, seven digits"),
        ("８９0309-2766876", "six digits, a hyphen, seven digits"),
        ("890309-5766876", "the digit after the hyphen must be 1 to 4"),
        ("890309-0766876", "the digit after the hyphen must be 1 to 4"),
        ("890309-9766876", "the digit after the hyphen must be 1 to 4"),
        ("891309-2766876", "the first six digits must be a real birth date"),
        ("890230-2766876", "the first six digits must be a real birth date"),
        ("010229-3766876", "the first six digits must be a real birth date"),
        ("890300-2766876", "the first six digits must be a real birth date"),
        ("211001-3766876", "the birth date is in the future"),
        ("300101-4766876", "the birth date is in the future"),
    ])
    func aMalformedNumberIsRefusedNamingTheFieldWithoutRepeatingIt(_ text: String, _ why: String) {
        #expect {
            try KoreanResidentNumber(text, field: "userRegNumber", today: Self.today)
        } throws: { error in
            guard let refusal = error as? Refusal, case .badRequest(let message, let field) = refusal else { return false }
            return field == "userRegNumber" && message.hasSuffix(why) && (text.count < 6 || !message.contains(text))
        }
    }
}

/// Calendar days: parsed exactly, stepped across months, years and leap days.
@Suite struct CalendarDayTests {
    @Test func daysParsePrintAndStep() throws {
        let day = try #require(CalendarDay(iso: "2021-10-05"))
        #expect(day.iso == "2021-10-05")
        #expect(day.compact == "20211005")
        #expect(day.number == 20211005)
        #expect(day.adding(days: 27).iso == "2021-11-01")
        #expect(day.adding(days: -5).iso == "2021-09-30")
        #expect(CalendarDay(iso: "2020-02-28")!.adding(days: 1).iso == "2020-02-29")
        #expect(CalendarDay(iso: "2021-02-28")!.adding(days: 1).iso == "2021-03-01")
        #expect(CalendarDay(iso: "2021-12-31")!.adding(days: 1).iso == "2022-01-01")
        #expect(CalendarDay(iso: "1970-01-01")!.daysSinceEpoch == 0)
        #expect(CalendarDay(compact: "20211005") == day)
        #expect(CalendarDay(iso: "2021-10-04")! < day)
    }

    @Test(arguments: ["", "2021-10-5", "2021/10/05", "2021-13-01", "2021-02-29", "2021-10-32", "20211005", "2021-10-05T00:00", "２021-10-05", "0000-01-01"])
    func anythingElseIsNoDay(_ text: String) {
        #expect(CalendarDay(iso: text) == nil)
        #expect(throws: Refusal.badRequest("reserveDate must be a calendar day as yyyy-MM-dd, such as 2021-10-05", field: "reserveDate")) {
            try CalendarDay(iso: text, field: "reserveDate")
        }
    }

    @Test func timestampsAreUTCToTheSecond() {
        #expect(Clock.timestamp(millis: 1_633_395_600_999) == "2021-10-05T01:00:00Z")
        #expect(Clock.timestamp(millis: 0) == "1970-01-01T00:00:00Z")
    }
}

/// The last good answer stands in, marked stale, only while the target is unavailable.
@Suite struct LastGoodAnswerTests {
    static let down = Refusal.unavailable("reservation is unavailable: timed out", retryAfterSeconds: 2)

    @Test func anUnavailableTargetIsAnsweredWithTheLastAnswerMarkedStale() async throws {
        let dates = LastGoodAnswer<[String]>(maxAge: .seconds(60))
        await #expect(throws: Self.down, "nothing kept yet: the 503 itself") {
            try await dates.fetch { throw Self.down }
        }
        let fresh = try await dates.fetch { ["2021-10-05"] }
        #expect(fresh.value == ["2021-10-05"] && !fresh.isStale)
        let stale = try await dates.fetch { throw Self.down }
        #expect(stale.value == ["2021-10-05"] && stale.isStale && stale.asOf == fresh.asOf)
        let newer = try await dates.fetch { ["2021-10-06"] }
        #expect(newer.value == ["2021-10-06"] && !newer.isStale)
    }

    @Test func otherErrorsAndAnswersTooOldAreNotCoveredUp() async throws {
        let dates = LastGoodAnswer<[String]>(maxAge: .seconds(60))
        _ = try await dates.fetch { ["2021-10-05"] }
        await #expect(throws: Refusal.badRequest("no", field: "x"), "a wrong request is not the neighbour's absence") {
            try await dates.fetch { throw Refusal.badRequest("no", field: "x") }
        }
        let expired = LastGoodAnswer<[String]>(maxAge: .zero)
        _ = try await expired.fetch { ["2021-10-05"] }
        await #expect(throws: Self.down) { try await expired.fetch { throw Self.down } }
    }
}
