import Cafe
import CafeContracts
import CafeDrink
import CafePayment
import Chassis
import ChassisTesting
import Testing

/// payment and drink: an order paid once and refunded once; a drink made only for a paid
/// order, only from Ordered, and stopped if its order is cancelled first.
@Suite struct KitchenTests {
    static let placed = OrderPlaced(id: 8, phoneNumber: "01082947794", productName: "coffee", qty: 3, amt: 6000, createTime: "2021-02-24T10:27:20.732+0000")
    static let paid = PaymentApproved(id: 8, orderId: 8, amt: 6000, phoneNumber: "01082947794", productName: "coffee", qty: 3)
    static let cancelled = OrderCancelled(id: 8, amt: 6000)

    @Test func anOrderIsPaidOnceAndRefundedOnce() async throws {
        try await withService(paymentService) { payment in
            for event in [Self.placed, Self.placed] { try await payment.deliver(event, from: "order") }
            #expect(try await payment.published(PaymentApproved.self) == [Self.paid])
            #expect(try await payment.get("/payments/8").json["status"] == "Paid")
            for event in [Self.cancelled, Self.cancelled] { try await payment.deliver(event, from: "order") }
            #expect(try await payment.published(PaymentRefunded.self) == [PaymentRefunded(id: 8, orderId: 8, amt: 6000)])
            #expect(try await payment.get("/payments/8").json["status"] == "Refunded")
            try await payment.expectRefusal(.post, "/payments", #"{"orderId":9,"amt":1}"#, status: 405)
        }
    }

    @Test func aDrinkIsMadeOnlyForAPaidOrderAndOnlyOnce() async throws {
        try await withService(drinkService) { drink in
            try await drink.deliver(Self.placed, from: "order")
            #expect(try await drink.get("/drinks/8").status == .notFound, "not paid yet")
            #expect(try await drink.get("/orderinfos/8").json["productName"] == "coffee")
            try await drink.deliver(Self.paid, from: "payment")
            try await drink.deliver(Self.paid, from: "payment")
            let ordered = try await drink.get("/drinks/8")
            #expect(ordered.json["status"] == "Ordered" && ordered.json["orderId"] == 8 && ordered.json["qty"] == 3)

            let made = try await drink.patch("/drinks/8", CafeSeed.made)
            #expect(made.status == .ok && made.json["status"] == "Made")
            #expect(made.json["_links"]?["drink"]?["href"] == "http://localhost/drinks/8")
            #expect(try await drink.published(DrinkMade.self)
                == [DrinkMade(id: 8, orderId: 8, phoneNumber: "01082947794", productName: "coffee", qty: 3)])
            try await drink.expectRefusal(.patch, "/drinks/8", CafeSeed.made.text, status: 409, field: "status", saying: "already Made")
            try await drink.expectRefusal(.patch, "/drinks/8", #"{"status":"Ordered"}"#, status: 409, field: "status")
            // A made drink stays made when its order is cancelled: its delivery is cancelled instead.
            try await drink.deliver(Self.cancelled, from: "order")
            #expect(try await drink.get("/drinks/8").json["status"] == "Made")
            #expect(try await drink.published(DrinkCancelled.self).isEmpty)
        }
    }

    @Test func aCancelledOrdersDrinkIsStoppedOrNeverMade() async throws {
        try await withService(drinkService) { drink in
            try await drink.deliver(Self.paid, from: "payment")
            try await drink.deliver(Self.cancelled, from: "order")
            try await drink.deliver(Self.cancelled, from: "order")
            #expect(try await drink.get("/drinks/8").json["status"] == "Cancelled")
            #expect(try await drink.published(DrinkCancelled.self) == [DrinkCancelled(id: 8, orderId: 8)])
            try await drink.expectRefusal(.patch, "/drinks/8", CafeSeed.made.text, status: 409, field: "status", saying: "Cancelled")

            // The cancellation overtook the payment: the late payment makes nothing.
            try await drink.deliver(OrderCancelled(id: 9, amt: 100), from: "order")
            try await drink.deliver(PaymentApproved(id: 9, orderId: 9, amt: 100, phoneNumber: "01000000000", productName: "tea", qty: 1), from: "payment")
            #expect(try await drink.get("/drinks/9").status == .notFound)
        }
    }

    static let badChanges = [
        BadInput("a status that is no drink status", raw: #"{"status":"Done"}"#, field: "status"),
        BadInput("a status that is not a string", raw: #"{"status":5}"#, field: "status"),
        BadInput("another qty", raw: #"{"status":"Made","qty":9}"#, status: 409, field: "qty"),
        BadInput("another orderId", raw: #"{"orderId":7}"#, status: 409, field: "orderId"),
        BadInput("malformed JSON", raw: #"{"status":"#),
    ]

    @Test(arguments: badChanges) func aBadDrinkChangeIsRefused(_ bad: BadInput) async throws {
        try await withService(drinkService) { drink in
            try await drink.deliver(Self.paid, from: "payment")
            try await drink.expectRefusal(.patch, "/drinks/8", bad.body, status: bad.status, field: bad.field)
            try await drink.expectRefusal(.patch, "/drinks/99", CafeSeed.made.text, status: 404)
        }
    }
}
