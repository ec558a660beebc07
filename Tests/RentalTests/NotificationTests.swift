import Chassis
import ChassisTesting
import Foundation
import RentalContracts
import RentalNotification
import Testing

/// notification: a message to the customer on every status change of their requests.
@Suite struct NotificationTests {
    static let requested = ReserveRequested(matchId: 4, name: "tent", price: 18000, listPrice: 20000, startDay: "20210624",
                                            endDay: "20210624", customer: "andy", promotional: true)
    static let matched = LendConfirmed(matchId: 4, lender: "Safemate", customer: "andy", name: "tent")

    func messages(_ notification: ServiceRig, _ query: String) async throws -> [String] {
        try await notification.get("/notifications?\(query)").embedded("notifications").compactMap { $0["message"]?.stringValue }
    }

    @Test func aMatchTellsTheCustomerWhoMatchedWhat() async throws {
        try await withService(notificationService) { notification in
            try await notification.deliver(Self.matched, from: "lend")
            #expect(try await messages(notification, "customer=andy") == ["your request #4 for tent was matched by Safemate"])
        }
    }

    @Test func everyStatusChangeNotifiesInOrder() async throws {
        try await withService(notificationService) { notification in
            try await notification.deliver(Self.requested, from: "reserve")
            try await notification.deliver(Self.matched, from: "lend")
            try await notification.deliver(ReserveCancelled(matchId: 4, customer: "andy"), from: "reserve")
            try await notification.deliver(PaymentCancelled(matchId: 4, price: 18000, customer: "andy"), from: "payment")
            try await notification.deliver(LendCancelled(matchId: 4, lender: "Safemate", customer: "andy"), from: "lend")

            #expect(try await messages(notification, "customer=andy") == [
                "your request #4 for tent was paid (18000 won at a promotional price) and sent to lenders",
                "your request #4 for tent was matched by Safemate",
                "your request #4 was cancelled",
                "request #4 was refunded: 18000 won",
                "the match of request #4 was cancelled",
            ])
        }
    }

    @Test func aVoidedPaymentIsNoNewsToTheCustomer() async throws {
        try await withService(notificationService) { notification in
            #expect(notification.host.definition.policies.handler(for: PaymentVoided.eventType) == nil,
                    "the request of a voided payment never existed: nothing to tell")
        }
    }

    @Test func notificationsAreFilteredAndSearchedByCustomer() async throws {
        try await withService(notificationService) { notification in
            try await notification.deliver(Self.matched, from: "lend")
            try await notification.deliver(ReserveCancelled(matchId: 6, customer: "bob"), from: "reserve")
            try await notification.deliver(ReserveCancelled(matchId: 4, customer: "andy"), from: "reserve")

            #expect(try await messages(notification, "customer=bob") == ["your request #6 was cancelled"])
            #expect(try await messages(notification, "customer=andy&matchId=4").count == 2)
            #expect(try await messages(notification, "size=20").count == 3)
            let found = try await notification.get("/notifications/search/findByCustomer?customer=andy")
            #expect(found.totalElements == 2)
        }
    }

    @Test func notificationsCannotBeWrittenThroughTheAPI() async throws {
        try await withService(notificationService) { notification in
            try await notification.deliver(Self.matched, from: "lend")
            try await notification.expectRefusal(.get, "/notifications/9", status: 404, saying: "notification 9 does not exist")
            try await notification.expectRefusal(.post, "/notifications", #"{"customer":"andy","message":"hi"}"#, status: 405)
            try await notification.expectRefusal(.delete, "/notifications/1", status: 405)
        }
    }

    /// The live stream needs a real connection: the router harness waits for a response's end.
    @Test func aConnectedCustomerIsStreamedTheirNewNotifications() async throws {
        try await withService(notificationService) { notification in
            try await notification.deliver(ReserveCancelled(matchId: 1, customer: "andy"), from: "reserve")
            try await withLiveServer(notification.host.router()) { port in
                let (contentType, received) = try await readEventStream("http://127.0.0.1:\(port)/notifications/stream?customer=andy",
                                                                        until: "matched by Safemate") {
                    // From now on, what happens is streamed, and only andy's.
                    try await notification.deliver(ReserveCancelled(matchId: 2, customer: "bob"), from: "reserve")
                    try await notification.deliver(Self.matched, from: "lend")
                }
                #expect(contentType == "text/event-stream")
                #expect(received.contains("event: message\ndata: {"))
                #expect(received.contains("matched by Safemate"))
                #expect(!received.contains("#1 was cancelled"), "what existed before connecting is not streamed")
                #expect(!received.contains("#2 was cancelled"), "bob's notification went to andy's stream")
            }
        }
    }
}
