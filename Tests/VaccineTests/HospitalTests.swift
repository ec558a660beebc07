import Chassis
import ChassisTesting
import Testing
import Vaccine
import VaccineContracts
import VaccineHospital

/// hospital: expects each booked person, chooses their vaccine, injects once stock set
/// the dose aside.
@Suite struct HospitalTests {
    static let requested = ReservationRequested(id: 1, userId: 1, userName: "Taeyeon Kim", userRegNumber: "890309-2******", reserveDate: "2021-10-05")

    func withHospital(_ environment: [String: String] = [:], _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
        try await withService(hospitalService, environment: environment) { hospital in
            try await hospital.deliver(Self.requested, from: "reservation")
            try await body(hospital)
        }
    }

    @Test func aBookingIsReceivedOnceWithAVaccineFromTheConfigMap() async throws {
        try await withHospital(["VACCINE_TYPE": " Novavax ,", "HOSPITAL_NAME": "Seoul Clinic"]) { hospital in
            try await hospital.deliver(Self.requested, from: "reservation")

            #expect(try await hospital.published(HospitalReservationReceived.self)
                == [HospitalReservationReceived(id: 1, hospitalName: "Seoul Clinic", userId: 1, userName: "Taeyeon Kim", userRegNumber: "890309-2******",
                                                reserveDate: "2021-10-05", vaccineType: "Novavax")])
            let booking = try await hospital.get("/hospitals/1")
            #expect(booking.json["reserveStatus"] == "RESERVE")
            #expect(booking.json["doseAllocated"] == false)
        }
    }

    @Test func withoutAConfigMapEachOfTheSeedsFourVaccinesIsChosen() async throws {
        try await withService(hospitalService) { hospital in
            for user in Int64(1)...120 {
                try await hospital.deliver(ReservationRequested(id: user, userId: user, userName: "Lee", userRegNumber: "930619-2******",
                                                                reserveDate: "2021-10-05"), from: "reservation")
            }
            let chosen = Set(try await hospital.published(HospitalReservationReceived.self).map(\.vaccineType))
            #expect(chosen == ["Pfizer", "Moderna", "Janssen", "AstraZeneca"], "a type missed in 120 draws has odds of 4·(3/4)^120")
        }
    }

    @Test func anInjectionWaitsForTheDoseThenIsGivenOnce() async throws {
        try await withHospital { hospital in
            try await hospital.expectRefusal(.post, "/hospital/inject", VaccineSeed.user(1).text, status: 409, field: "userId", saying: "not yet confirmed")
            let type = try await hospital.published(HospitalReservationReceived.self)[0].vaccineType
            try await hospital.deliver(VaccineAllocated(userId: 1, vaccineType: type, remaining: 9), from: "stock")

            let injected = try await hospital.post("/hospital/inject", VaccineSeed.user(1))
            #expect(injected.status == .ok)
            #expect(injected.json["reserveStatus"] == "INJECT")
            #expect(injected.json["_links"]?["hospital"]?["href"] == "http://localhost/hospitals/1")
            let events = try await hospital.published(VaccineInjected.self)
            #expect(events.map(\.vaccineType) == [type] && events.map(\.userId) == [1])
            try await hospital.expectRefusal(.post, "/hospital/inject", VaccineSeed.user(1).text, status: 409, field: "userId", saying: "already injected")
            try await hospital.deliver(ReservationCancelled(userId: 1, reserveDate: "2021-10-05", cancelDate: "2021-10-05T02:00:00Z"), from: "reservation")
            #expect(try await hospital.published(HospitalReservationCancelled.self).isEmpty, "an injection given stands")
        }
    }

    @Test func aShortageRejectsTheBookingBackAlongTheChain() async throws {
        try await withHospital(["VACCINE_TYPE": "Pfizer"]) { hospital in
            let shortage = VaccineShortage(userId: 1, vaccineType: "Pfizer", reason: "no Pfizer dose is left in stock")
            try await hospital.deliver(shortage, from: "stock")
            try await hospital.deliver(shortage, from: "stock")

            #expect(try await hospital.published(HospitalReservationRejected.self)
                == [HospitalReservationRejected(userId: 1, vaccineType: "Pfizer", reason: "no Pfizer dose is left in stock")])
            #expect(try await hospital.get("/hospitals/1").json["reserveStatus"] == "REJECTED")
            try await hospital.expectRefusal(.post, "/hospital/inject", VaccineSeed.user(1).text, status: 409, field: "userId", saying: "rejected")
        }
    }

    @Test func aCancellationSendsTheDoseBackOnce() async throws {
        try await withHospital(["VACCINE_TYPE": "Moderna"]) { hospital in
            let cancelled = ReservationCancelled(userId: 1, reserveDate: "2021-10-05", cancelDate: "2021-10-02T10:00:00Z")
            try await hospital.deliver(cancelled, from: "reservation")
            try await hospital.deliver(cancelled, from: "reservation")

            #expect(try await hospital.published(HospitalReservationCancelled.self) == [HospitalReservationCancelled(userId: 1, vaccineType: "Moderna")])
            try await hospital.deliver(VaccineShortage(userId: 1, vaccineType: "Moderna", reason: "none"), from: "stock")
            #expect(try await hospital.published(HospitalReservationRejected.self).isEmpty, "a cancelled booking is not rejected too")
            try await hospital.expectRefusal(.post, "/hospital/inject", VaccineSeed.user(1).text, status: 409, field: "userId", saying: "cancelled")
        }
    }

    @Test func badInjectionsAreRefused() async throws {
        try await withHospital { hospital in
            try await hospital.expectRefusal(.post, "/hospital/inject", VaccineSeed.user(7).text, status: 404, saying: "no booking of user 7")
            try await hospital.expectRefusal(.post, "/hospital/inject", "{}", status: 400, field: "userId")
            try await hospital.expectRefusal(.post, "/hospital/inject", #"{"userId":"seven"}"#, status: 400, field: "userId")
            try await hospital.expectRefusal(.post, "/hospital/inject", #"{"userId":"#, status: 400)
            try await hospital.expectRefusal(.patch, "/hospitals/1", #"{"reserveStatus":"INJECT"}"#, status: 405)
        }
    }
}
