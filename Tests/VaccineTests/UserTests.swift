import Chassis
import ChassisTesting
import Synchronization
import Testing
import Vaccine
import VaccineContracts
import VaccineUser

/// user: dates looked up synchronously, bookings taken and published, personal numbers
/// validated and never shown whole.
@Suite struct UserTests {
    static let seed = VaccineSeed.booking()
    static let whole = "890309-2766876"

    @Test func theSeedsLookUpAnswersTheOpenDatesWithTheNumberMasked() async throws {
        try await withUserAndReservation(reservation: ["RESERVATION_DAYS": "14"]) { user, _ in
            let reply = try await user.post("/user/date", VaccineSeed.person())
            #expect(reply.status == .ok)
            #expect(reply.json["userRegNumber"] == "890309-2******")
            #expect(reply.json["stale"] == false)
            guard case .array(let dates)? = reply.json["dates"] else { Issue.record("no dates: \(reply.json)"); return }
            #expect(dates.count == 14)
            #expect(dates.first?["reserveDate"] == "2021-10-01")
            #expect(dates.first?["available"] == 100)
            #expect(!reply.json.text.contains(Self.whole))
            #expect(try await user.snapshot().documents.values.allSatisfy(\.isEmpty), "a look-up writes nothing")
        }
    }

    @Test func aLookUpReservationCannotAnswerIsTheLastDatesMarkedStaleOrElseA503() async throws {
        try await withUserAlone { user in
            let busy = try await user.expectRefusal(.post, "/user/date", VaccineSeed.siege.text, status: 503, saying: "조회 폭주로 서비스 지연 중입니다")
            #expect(busy.headers[.retryAfter] != nil)
        }
        let reservation = ReservationStand()
        try await withLiveServer(reservation.router) { port in
            let settings = ["RESERVATION_URL": "http://127.0.0.1:\(port)", "RESERVATION_TIMEOUT_MS": "200"]
            try await withService(userService, environment: settings) { user in
                let fresh = try await user.post("/user/date", VaccineSeed.siege)
                #expect(fresh.json["stale"] == false)
                #expect(fresh.json["dates"]?[0]?["reserveDate"] == "2021-10-05")
                for behaviour in [ReservationStand.Behaviour.slow, .failing] {
                    reservation.behave(behaviour)
                    let stale = try await user.post("/user/date", VaccineSeed.siege)
                    #expect(stale.status == .ok, "\(behaviour)")
                    #expect(stale.json["stale"] == true, "\(behaviour)")
                    #expect(stale.json["asOf"] == fresh.json["asOf"])
                    #expect(stale.json["dates"] == fresh.json["dates"])
                }
            }
            try await withService(userService, environment: settings.merging(["USER_STALE_DATES_S": "0"]) { _, new in new }) { user in
                reservation.behave(.up)
                _ = try await user.post("/user/date", VaccineSeed.siege)
                reservation.behave(.failing)
                try await user.expectRefusal(.post, "/user/date", VaccineSeed.siege.text, status: 503, saying: "try again shortly")
            }
        }
    }

    @Test func aBookingIsRecordedMaskedAndPublishedAndOnlyTheResidentRecordHoldsTheNumber() async throws {
        try await withUserAndReservation { user, _ in
            let reply = try await user.post("/user/reserve", Self.seed)
            #expect(reply.status == .created)
            #expect(reply.headers[.location] == "http://localhost/users/1")
            #expect(reply.json["reserveStatus"] == "RESERVE")
            #expect(reply.json["reserveDate"] == "2021-10-05")
            #expect(reply.json["userRegNumber"] == "890309-2******")
            #expect(try await user.published(UserReserved.self)
                == [UserReserved(userId: 1, userName: "Taeyeon Kim", userRegNumber: "890309-2******", reserveDate: "2021-10-05")])
            #expect(!(try await user.get("/users").json.text.contains(Self.whole)))
            let documents = try await user.snapshot().documents
            let holding = documents.filter { _, rows in rows.contains { String(decoding: $0.body, as: UTF8.self).contains("8903092766876") || $0.id == 8903092766876 } }
            #expect(Array(holding.keys) == ["residents"], "the whole number is the resident record's id, and nowhere else")
            let outbox = try await user.snapshot().outbox.map { String(decoding: $0.envelope.payload, as: UTF8.self) }
            #expect(outbox.allSatisfy { !$0.contains(Self.whole) })
        }
    }

    @Test func anActiveBookingCannotBeRepeatedButACancelledOneCanBeBookedAgain() async throws {
        try await withUserAndReservation { user, _ in
            _ = try await user.post("/user/reserve", Self.seed)
            let again = try await user.expectRefusal(.post, "/user/reserve", VaccineSeed.booking(on: "2021-10-06").text, status: 409, field: "userRegNumber",
                                                     saying: "already has an active booking")
            #expect(again.error?.contains(Self.whole) == false)
            #expect(try await user.post("/user/cancel", VaccineSeed.user(1)).json["reserveStatus"] == "CANCEL")
            let rebooked = try await user.post("/user/reserve", VaccineSeed.booking(on: "2021-10-06"))
            #expect(rebooked.status == .created)
            #expect(rebooked.json["id"] == 2)
        }
    }

    @Test func aDateReservationSaysIsClosedOrFullIsRefusedAtOnce() async throws {
        try await withUserAndReservation(reservation: ["RESERVATION_DAILY_CAPACITY": "0"]) { user, _ in
            try await user.expectRefusal(.post, "/user/reserve", Self.seed.text, status: 409, field: "reserveDate", saying: "fully booked")
            try await user.expectRefusal(.post, "/user/reserve", VaccineSeed.booking(on: "2020-10-05").text, status: 409, field: "reserveDate",
                                         saying: "not open")
        }
    }

    @Test func aBookingIsTakenWhenReservationCannotSayAndReservationDecidesLater() async throws {
        try await withUserAlone { user in
            let reply = try await user.post("/user/reserve", Self.seed)
            #expect(reply.status == .created)
            try await user.deliver(ReservationRejected(userId: 1, userName: "Taeyeon Kim", userRegNumber: "890309-2******", reserveDate: "2021-10-05",
                                                       reason: "2021-10-05 is fully booked (100 a day)"), from: "reservation")
            let rejected = try await user.get("/users/1")
            #expect(rejected.json["reserveStatus"] == "REJECTED")
            #expect(rejected.json["rejectReason"] == "2021-10-05 is fully booked (100 a day)")
            try await user.expectRefusal(.post, "/user/cancel", VaccineSeed.user(1).text, status: 409, field: "userId", saying: "rejected")
            #expect(try await user.post("/user/reserve", Self.seed).status == .created, "a rejected booking is not active")
        }
    }

    @Test func cancellingPublishesOnceAndAnInjectionIsFinal() async throws {
        try await withUserAlone { user in
            _ = try await user.post("/user/reserve", Self.seed)
            #expect(try await user.post("/user/cancel", VaccineSeed.user(1)).status == .ok)
            try await user.expectRefusal(.post, "/user/cancel", VaccineSeed.user(1).text, status: 409, field: "userId", saying: "already cancelled")
            #expect(try await user.published(UserCancelled.self).count == 1)
            // An injection that crossed the cancellation stands, and cannot be cancelled.
            let injected = VaccineInjected(userId: 1, injectDate: "2021-10-05T01:00:00Z", vaccineType: "Pfizer", hospitalName: "Korean Hospital")
            try await user.deliver(injected, from: "hospital")
            try await user.deliver(injected, from: "hospital")
            let row = try await user.get("/users/1")
            #expect(row.json["reserveStatus"] == "INJECT")
            #expect(row.json["vaccineType"] == "Pfizer")
            try await user.expectRefusal(.post, "/user/cancel", VaccineSeed.user(1).text, status: 409, field: "userId", saying: "cannot be cancelled")
            try await user.expectRefusal(.post, "/user/cancel", VaccineSeed.user(9).text, status: 404, saying: "user 9 does not exist")
        }
    }

    static let badNumbers = [
        "", "8903092766876", "890309 2766876", "890309-276687", "890309-27668761", "89O309-2766876", "890309-5766876", "890309-0766876",
        "891309-2766876", "890230-2766876", "890300-2766876", "350101-3766876", "890309-2766876 ", " 890309-2766876", "890309–2766876",
    ]

    @Test(arguments: badNumbers) func everyMalformedPersonalNumberIsA400ThatDoesNotRepeatIt(_ number: String) async throws {
        try await withUserAlone { user in
            for (path, body) in [("/user/date", VaccineSeed.person("Lee", number)), ("/user/reserve", VaccineSeed.booking("Lee", number))] {
                let reply = try await user.expectRefusal(.post, path, body.text, status: 400, field: "userRegNumber")
                #expect(number.count < 6 || reply.error?.contains(number.trimmingCharacters(in: .whitespaces)) == false)
            }
        }
    }

    static let badBookings = [
        BadInput("malformed JSON", raw: #"{"userName":"#),
        BadInput("an array", raw: "[]"),
        BadInput("no userName", seed.without("userName"), field: "userName"),
        BadInput("an empty userName", seed.with(["userName": "  "]), field: "userName"),
        BadInput("a userName of 51 characters", seed.with(["userName": .string(String(repeating: "a", count: 51))]), field: "userName"),
        BadInput("no userRegNumber", seed.without("userRegNumber"), field: "userRegNumber"),
        BadInput("a userRegNumber as a number", seed.with(["userRegNumber": 8903092766876]), field: "userRegNumber"),
        BadInput("a null userRegNumber", seed.with(["userRegNumber": .null]), field: "userRegNumber"),
        BadInput("no reserveDate", seed.without("reserveDate"), field: "reserveDate"),
        BadInput("a reserveDate that is no day", seed.with(["reserveDate": "2021-02-30"]), field: "reserveDate"),
        BadInput("a reserveDate as yyyyMMdd", seed.with(["reserveDate": "20211005"]), field: "reserveDate"),
        BadInput("a personal number as the reserveDate", seed.with(["reserveDate": "890309-2766876"]), field: "reserveDate"),
    ]

    @Test(arguments: badBookings) func aBadBookingIsRefused(_ bad: BadInput) async throws {
        try await withUserAlone { user in
            let reply = try await user.expectRefusal(.post, "/user/reserve", bad.body, status: bad.status, field: bad.field)
            #expect(reply.error?.contains(Self.whole) == false)
        }
    }

    @Test func bookingsAreReadOnlyThroughTheirCollection() async throws {
        try await withUserAlone { user in
            _ = try await user.post("/user/reserve", Self.seed)
            try await user.expectRefusal(.post, "/users", Self.seed.text, status: 405)
            try await user.expectRefusal(.patch, "/users/1", #"{"reserveStatus":"INJECT"}"#, status: 405)
            try await user.expectRefusal(.delete, "/users/1", status: 405)
            try await user.expectRefusal(.post, "/user/cancel", #"{"userId":"one"}"#, status: 400, field: "userId")
        }
    }
}

/// reservation's date look-up, answering as a test tells it to.
final class ReservationStand: Sendable {
    enum Behaviour: Sendable { case up, slow, failing }
    private let behaviour = Mutex(Behaviour.up)

    func behave(_ next: Behaviour) { behaviour.withLock { $0 = next } }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.get("reservation/date") { _, _ -> Response in
            switch self.behaviour.withLock({ $0 }) {
            case .up:
                return try JSONResponse.make(.ok, encoding: AvailableDates(dates: [OpenDate(reserveDate: "2021-10-05", open: true, capacity: 100, booked: 1)]))
            case .slow:
                try await Task.sleep(for: .seconds(2))
                return Response(status: .ok)
            case .failing:
                return Response(status: .internalServerError)
            }
        }
        return router
    }
}
