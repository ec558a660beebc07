import Chassis
import ChassisTesting
import Testing
import Vaccine
import VaccineContracts
import VaccineReservation

/// reservation: the date capacity calendar and each booking's place in it.
@Suite struct ReservationTests {
    static let calendar = ["RESERVATION_FIRST_DAY": "2021-10-01", "RESERVATION_DAYS": "14", "RESERVATION_DAILY_CAPACITY": "2"]

    static func booking(_ userId: Int64, on date: String = "2021-10-05") -> UserReserved {
        UserReserved(userId: userId, userName: "Lee \(userId)", userRegNumber: "930619-2******", reserveDate: date)
    }

    func withReservation(_ environment: [String: String] = calendar, _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
        try await withService(reservationService, environment: environment, body)
    }

    func booked(_ reservation: ServiceRig, on date: String = "2021-10-05") async throws -> JSONValue? {
        try await reservation.get("/reservation/date/\(date)").json["booked"]
    }

    @Test func aBookingWithRoomIsRequestedOnceAndTakesOnePlace() async throws {
        try await withReservation { reservation in
            try await reservation.deliver(Self.booking(1), from: "user")
            try await reservation.deliver(Self.booking(1), from: "user")

            let stored = try await reservation.get("/reservations/1")
            #expect(stored.json["reserveStatus"] == "RESERVE")
            #expect(stored.json["userId"] == 1)
            #expect(try await reservation.published(ReservationRequested.self)
                == [ReservationRequested(id: 1, userId: 1, userName: "Lee 1", userRegNumber: "930619-2******", reserveDate: "2021-10-05")])
            #expect(try await booked(reservation) == 1)
            #expect(try await reservation.get("/reservations/search/findByUserId?userId=1").embedded("reservations").count == 1)
        }
    }

    @Test func aFullDateAndAClosedOneRejectTheBookingWithTheReason() async throws {
        try await withReservation { reservation in
            for user in Int64(1)...3 { try await reservation.deliver(Self.booking(user), from: "user") }
            try await reservation.deliver(Self.booking(4, on: "2021-10-15"), from: "user")
            try await reservation.deliver(Self.booking(5, on: "2021-09-30"), from: "user")

            #expect(try await reservation.published(ReservationRequested.self).map(\.userId) == [1, 2])
            let rejected = try await reservation.published(ReservationRejected.self)
            #expect(rejected.map(\.userId) == [3, 4, 5])
            #expect(rejected[0].reason == "2021-10-05 is fully booked (2 a day)")
            #expect(rejected[1].reason == "2021-10-15 is not open for booking: the calendar takes 2021-10-01 to 2021-10-14")
            #expect(try await reservation.get("/reservations/3").json["reserveStatus"] == "REJECTED")
            #expect(try await booked(reservation) == 2, "a rejection takes no place")
        }
    }

    @Test func aCancellationFreesThePlaceOnceAndAnInjectionThatCrossedItTakesItAgain() async throws {
        try await withReservation { reservation in
            try await reservation.deliver(Self.booking(1), from: "user")
            let cancelled = UserCancelled(userId: 1, cancelDate: "2021-10-02T10:00:00Z")
            try await reservation.deliver(cancelled, from: "user")
            try await reservation.deliver(cancelled, from: "user")

            #expect(try await reservation.published(ReservationCancelled.self)
                == [ReservationCancelled(userId: 1, reserveDate: "2021-10-05", cancelDate: "2021-10-02T10:00:00Z")])
            #expect(try await booked(reservation) == 0)
            try await reservation.deliver(VaccineInjected(userId: 1, injectDate: "2021-10-05T01:00:00Z", vaccineType: "Pfizer", hospitalName: "Korean Hospital"),
                                          from: "hospital")
            #expect(try await reservation.get("/reservations/1").json["reserveStatus"] == "INJECT")
            #expect(try await booked(reservation) == 1, "the injected person did take the place")
        }
    }

    @Test func theHospitalsRejectionFreesThePlaceAndIsPassedOn() async throws {
        try await withReservation { reservation in
            try await reservation.deliver(Self.booking(1), from: "user")
            try await reservation.deliver(HospitalReservationRejected(userId: 1, vaccineType: "Pfizer", reason: "no Pfizer dose is left in stock"), from: "hospital")

            let rejected = try await reservation.published(ReservationRejected.self)
            #expect(rejected.map(\.reason) == ["no Pfizer dose is left in stock"])
            #expect(rejected.first?.userName == "Lee 1")
            #expect(try await booked(reservation) == 0)
            try await reservation.deliver(UserCancelled(userId: 1, cancelDate: "2021-10-02T10:00:00Z"), from: "user")
            #expect(try await booked(reservation) == 0, "a rejected booking frees nothing again")
            #expect(try await reservation.published(ReservationCancelled.self).isEmpty)
        }
    }

    @Test func theLookUpListsTheOpenDaysWithRoom() async throws {
        try await withReservation { reservation in
            try await reservation.deliver(Self.booking(1, on: "2021-10-02"), from: "user")
            try await reservation.deliver(Self.booking(2, on: "2021-10-02"), from: "user")
            try await reservation.deliver(Self.booking(3, on: "2021-10-03"), from: "user")

            let dates = try await reservation.get("/reservation/date").json["dates"]
            guard case .array(let days)? = dates else { Issue.record("no dates"); return }
            #expect(days.count == 13, "the full day is left out")
            #expect(days.compactMap { $0["reserveDate"]?.stringValue }.first == "2021-10-01")
            #expect(!days.contains { $0["reserveDate"] == "2021-10-02" })
            #expect(days.first { $0["reserveDate"] == "2021-10-03" }?["available"] == 1)
            let closed = try await reservation.get("/reservation/date/2021-10-20")
            #expect(closed.json["open"] == false && closed.json["available"] == 0)
            try await reservation.expectRefusal(.get, "/reservation/date/20211020", status: 400, field: "reserveDate")
            try await reservation.expectRefusal(.post, "/reservations", "{}", status: 405)
        }
    }

    @Test func withoutAFirstDayTheCalendarOpensToday() async throws {
        try await withReservation(["RESERVATION_DAYS": "3"]) { reservation in
            let dates = try await reservation.get("/reservation/date").json["dates"]
            #expect(dates?[0]?["reserveDate"] == .string(CalendarDay.today().iso))
            #expect(dates?[2]?["reserveDate"] == .string(CalendarDay.today().adding(days: 2).iso))
        }
    }
}
