import Chassis
import ChassisTesting
import Testing
import Vaccine
import VaccineContracts
import VaccineDashboard

/// dashboard: every booking and its state from events only, and a message for each change.
@Suite struct DashboardTests {
    static let requested = ReservationRequested(id: 1, userId: 1, userName: "Taeyeon Kim", userRegNumber: "890309-2******", reserveDate: "2021-10-05")
    static let received = HospitalReservationReceived(id: 1, hospitalName: "Korean Hospital", userId: 1, userName: "Taeyeon Kim",
                                                      userRegNumber: "890309-2******", reserveDate: "2021-10-05", vaccineType: "Pfizer")
    static let injected = VaccineInjected(userId: 1, injectDate: "2021-10-05T01:00:00Z", vaccineType: "Pfizer", hospitalName: "Korean Hospital")
    static let cancelled = ReservationCancelled(userId: 2, reserveDate: "2021-10-06", cancelDate: "2021-10-02T10:00:00Z")

    @Test func aBookingsEventsMakeItsRowWhateverTheirOrderAndRepeats() async throws {
        try await withService(dashboardService) { dashboard in
            // The injection overtakes the others; each comes twice.
            for event in [Self.injected, Self.injected] as [any DomainEvent] { try await deliver(event, to: dashboard) }
            for event in [Self.requested, Self.received, Self.requested] as [any DomainEvent] { try await deliver(event, to: dashboard) }

            let row = try await dashboard.get("/dashboards/1")
            #expect(row.json["reserveStatus"] == "INJECT")
            #expect(row.json["userRegNumber"] == "890309-2******")
            #expect(row.json["vaccineType"] == "Pfizer")
            #expect(row.json["injectDate"] == "2021-10-05T01:00:00Z")
            #expect(row.json["reserveDate"] == "2021-10-05")
            #expect(try await dashboard.store.count("dashboards", matching: []) == 1)
        }
    }

    @Test func theSeedsListsAnswerArraysAllOrByVaccineType() async throws {
        try await withService(dashboardService) { dashboard in
            try await dashboard.deliver(Self.received, from: "hospital")
            try await dashboard.deliver(ReservationRequested(id: 2, userId: 2, userName: "Jieun Lee", userRegNumber: "930619-2******",
                                                             reserveDate: "2021-10-06"), from: "reservation")
            try await dashboard.deliver(Self.cancelled, from: "reservation")
            try await dashboard.deliver(ReservationRejected(userId: 3, userName: "Lee", userRegNumber: "930619-2******", reserveDate: "2021-10-07",
                                                            reason: "2021-10-07 is fully booked (100 a day)"), from: "reservation")

            guard case .array(let all) = try await dashboard.get("/dashboard/list").json else { Issue.record("not an array"); return }
            #expect(all.map { $0["reserveStatus"] } == ["RESERVE", "CANCEL", "REJECTED"])
            #expect(all[2]["rejectReason"] == "2021-10-07 is fully booked (100 a day)")
            let pfizer = try await dashboard.get("/dashboard/list/Pfizer").json
            #expect(pfizer[0]?["userId"] == 1 && pfizer[1] == nil)
            let page = try await dashboard.get("/dashboard/list?page=1&size=2").json
            #expect(page[0]?["userId"] == 3 && page[1] == nil)
            try await dashboard.expectRefusal(.get, "/dashboard/list?size=0", status: 400, field: "size")
            try await dashboard.expectRefusal(.get, "/dashboard/list?size=2&page=x", status: 400, field: "page")
            #expect(try await dashboard.get("/dashboards/search/findByUserId?userId=2").embedded("dashboards").count == 1)
        }
    }

    @Test func everyStatusChangeNotifiesThePerson() async throws {
        try await withService(dashboardService) { dashboard in
            for event in [Self.requested, Self.received, Self.injected] as [any DomainEvent] { try await deliver(event, to: dashboard) }
            try await deliver(Self.injected, to: dashboard)

            let messages = try await dashboard.get("/notifications/search/findByUserId?userId=1").embedded("notifications").compactMap { $0["message"]?.stringValue }
            #expect(messages == ["your vaccination on 2021-10-05 is booked (booking 1)",
                                 "Korean Hospital expects you on 2021-10-05 for your Pfizer vaccination",
                                 "you were vaccinated with Pfizer at Korean Hospital"])
            #expect(try await dashboard.get("/notifications?userId=2").totalElements == 0)
        }
    }

    @Test func aConnectedPersonIsStreamedTheirNewNotificationsLive() async throws {
        try await withService(dashboardService) { dashboard in
            try await dashboard.deliver(Self.requested, from: "reservation")
            try await withLiveServer(dashboard.host.router()) { port in
                let (contentType, received) = try await readEventStream("http://127.0.0.1:\(port)/notifications/stream?userId=1",
                                                                        until: "vaccinated with Pfizer") {
                    try await dashboard.deliver(Self.cancelled, from: "reservation")
                    try await dashboard.deliver(Self.injected, from: "hospital")
                }
                #expect(contentType == "text/event-stream")
                #expect(received.contains("you were vaccinated with Pfizer at Korean Hospital"))
                #expect(!received.contains("is booked"), "what existed before connecting is not streamed")
                #expect(!received.contains("is cancelled"), "user 2's notification went to user 1's stream")
            }
        }
    }

    private func deliver(_ event: any DomainEvent, to dashboard: ServiceRig) async throws {
        try await dashboard.deliver(event, from: "test")
    }
}
