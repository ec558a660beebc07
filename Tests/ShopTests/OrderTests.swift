import Chassis
import ChassisTesting
import Shop
import ShopContracts
import ShopOrder
import Synchronization
import Testing

/// order: orders paid as they are placed, at most so many placements at once, cancelled
/// only by the seed's PATCH, refunded when they cannot be delivered; and the customer's
/// status view, built from events in any order.
@Suite struct OrderTests {
    static let seed = ShopSeed.order()

    @Test func theSeedsOrderIsPaidAsItIsPlacedAndPublishedWhole() async throws {
        try await withService(orderService) { order in
            let reply = try await order.post("/orders", Self.seed)
            #expect(reply.status == .created)
            #expect(reply.headers[.location] == "http://localhost/orders/1")
            #expect(reply.json["_links"]?["order"]?["href"] == "http://localhost/orders/1")
            #expect(reply.json["payStatus"] == "Paid" && reply.json["orderStatus"] == "orderPlaced")
            #expect(reply.json["qty"] == 1 && reply.json["productPrice"] == 20000, "httpie's strings are numbers")
            let date = try #require(reply.json["orderDate"]?.stringValue)
            #expect(date.count == 28 && date.hasSuffix("+0000"), "Jackson's form: \(date)")
            #expect(try await order.published(OrderPlaced.self) == [
                OrderPlaced(id: 1, username: "HanYongSun", address: "kyungkido sungnamsi", phoneNo: "01012341234", productId: "1",
                            productName: "ITbook", productPrice: 20000, qty: 1, userId: "hanys", orderDate: date),
            ])
        }
    }

    @Test func theSeedsPatchCancelsOrderAndPaymentOnceAndOtherPatchesPublishNothing() async throws {
        try await withService(orderService) { order in
            _ = try await order.post("/orders", Self.seed)
            let cancelled = try await order.patch("/orders/1", ShopSeed.cancel)
            #expect(cancelled.status == .ok)
            #expect(cancelled.json["orderStatus"] == "orderCanceled" && cancelled.json["payStatus"] == "Cancelled")
            #expect(try await order.patch("/orders/1", ShopSeed.cancel).status == .ok, "cancelling again changes nothing")
            #expect(try await order.patch("/orders/1", ["orderStatus": "OrderCancelled"]).status == .ok, "another spelling, nothing new")
            #expect(try await order.published(OrderCanceled.self) == [OrderCanceled(id: 1, username: "HanYongSun", userId: "hanys", productId: "1", qty: 1)])
            try await order.expectRefusal(.patch, "/orders/1", #"{"orderStatus":"orderPlaced"}"#, status: 409, field: "orderStatus")
        }
    }

    @Test func onlyTheOrderStatusMayChange() async throws {
        try await withService(orderService) { order in
            _ = try await order.post("/orders", Self.seed)
            #expect(try await order.patch("/orders/1", ["orderStatus": "orderPlaced"]).status == .ok, "a PATCH that changes nothing")
            try await order.expectRefusal(.patch, "/orders/1", #"{"address":"seoul"}"#, status: 409, field: "address")
            try await order.expectRefusal(.patch, "/orders/1", #"{"qty":5}"#, status: 409, field: "qty")
            try await order.expectRefusal(.patch, "/orders/1", #"{"payStatus":"Refunded"}"#, status: 409, field: "payStatus")
            try await order.expectRefusal(.patch, "/orders/1", #"{"orderStatus":"shipped"}"#, status: 400, field: "orderStatus")
            try await order.expectRefusal(.patch, "/orders/1", #"{"orderStatus":"deliveryRejected"}"#, status: 409, field: "orderStatus")
            try await order.expectRefusal(.patch, "/orders/9", #"{"orderStatus":"orderCanceled"}"#, status: 404)
            try await order.expectRefusal(.delete, "/orders/1", status: 405)
            #expect(try await order.published(OrderCanceled.self).isEmpty)
        }
    }

    @Test func anOrderThatCannotBeDeliveredIsRefundedUnlessTheCustomerCancelledFirst() async throws {
        try await withService(orderService) { order in
            _ = try await order.post("/orders", Self.seed)
            _ = try await order.post("/orders", Self.seed)
            try await order.deliver(DeliveryRejected(id: 1, orderId: 1, reason: "ITbook is out of stock: 1 ordered, 0 left"), from: "productdelivery")
            let refunded = try await order.get("/orders/1")
            #expect(refunded.json["payStatus"] == "Refunded" && refunded.json["orderStatus"] == "deliveryRejected")
            #expect(refunded.json["rejectReason"] == "ITbook is out of stock: 1 ordered, 0 left")
            try await order.expectRefusal(.patch, "/orders/1", try JSON.encodeString(ShopSeed.cancel), status: 409, saying: "refunded already")

            _ = try await order.patch("/orders/2", ShopSeed.cancel)
            try await order.deliver(DeliveryRejected(id: 2, orderId: 2, reason: "sold out"), from: "productdelivery")
            #expect(try await order.get("/orders/2").json["payStatus"] == "Cancelled", "cancelled first: nothing to refund")
        }
    }

    /// The seed's rule with a slow store: while the store's writer is held, three
    /// placements wait for it and every other is a 503 + `Retry-After` at once; once it
    /// is free, the three complete, and nothing of the refused ones was written.
    @Test func placementsBeyondThreeInFlightAreRefusedAtOnceWithNothingWritten() async throws {
        try await withService(orderService) { order in
            let store = StoreHold()
            async let held: Void = order.store.write { _ in try await store.hold() }
            try await eventually("the store's writer held") { store.isHeld }
            let answered = Mutex(0)
            async let placed = concurrently(6) { _ in
                let reply = try await order.post("/orders", Self.seed)
                answered.withLock { $0 += 1 }
                return reply
            }
            try await eventually("three refused while the store is held") { answered.withLock { $0 } == 3 }
            store.release()
            try await held
            let replies = try await placed
            #expect(replies.filter { $0.status == .created }.count == 3)
            let refused = replies.filter { $0.status == .serviceUnavailable }
            #expect(refused.count == 3 && refused.allSatisfy { $0.headers[.retryAfter] == "1" && $0.error?.contains("3 orders are being taken already") == true })
            #expect(try await order.get("/orders").totalElements == 3)
            #expect(try await order.published(OrderPlaced.self).count == 3)
        }
    }

    static let badOrders = [
        BadInput("malformed JSON", raw: #"{"qty":"#),
        BadInput("an array", raw: "[]"),
        BadInput("no username", seed.without("username"), field: "username"),
        BadInput("an empty username", seed.with(["username": "  "]), field: "username"),
        BadInput("no address", seed.without("address"), field: "address"),
        BadInput("a phoneNo with letters", seed.with(["phoneNo": "010-CALL-ME"]), field: "phoneNo"),
        BadInput("a short phoneNo", seed.with(["phoneNo": "0101"]), field: "phoneNo"),
        BadInput("no productId", seed.without("productId"), field: "productId"),
        BadInput("no productName", seed.without("productName"), field: "productName"),
        BadInput("a productPrice that is not a number", seed.with(["productPrice": "20,000"]), field: "productPrice"),
        BadInput("a negative productPrice", seed.with(["productPrice": "-1"]), field: "productPrice"),
        BadInput("no qty", seed.without("qty"), field: "qty"),
        BadInput("a qty of 0", seed.with(["qty": "0"]), field: "qty"),
        BadInput("a qty with a fraction", seed.with(["qty": 1.5]), field: "qty"),
        BadInput("a qty of 101", seed.with(["qty": 101]), field: "qty"),
        BadInput("no userId", seed.without("userId"), field: "userId"),
        BadInput("an unpaid order", seed.with(["payStatus": "Unpaid"]), field: "payStatus"),
        BadInput("an order placed cancelled", seed.with(["orderStatus": "orderCanceled"]), field: "orderStatus"),
    ]

    @Test(arguments: badOrders) func aBadOrderIsRefused(_ bad: BadInput) async throws {
        try await withService(orderService) { order in
            try await order.expectRefusal(.post, "/orders", bad.body, status: bad.status, field: bad.field)
        }
    }

    // MARK: The status view

    static let placed = OrderPlaced(id: 7, username: "HanYongSun", address: "kyungkido sungnamsi", phoneNo: "01012341234", productId: "1",
                                    productName: "ITbook", productPrice: 20000, qty: 1, userId: "hanys", orderDate: "2021-09-15T01:02:03.456+0000")
    static let accepted = OrderAccepted(id: 7, orderId: 7, itemId: "1", itemName: "ITbook", qty: 1, customerName: "HanYongSun",
                                        deliveryAddress: "kyungkido sungnamsi", deliveryPhoneNumber: "01012341234", userId: "hanys")
    static let started = DeliveryStarted(id: 7, orderId: 7, itemId: "1", qty: 1, couponId: "CPN-7-A", couponKind: "10% off", couponUseYn: "Y")

    @Test func theStatusFollowsTheOrderAndItsCouponAndIsFoundByOrderAndUser() async throws {
        try await withService(orderService) { order in
            try await order.deliver(Self.placed, from: "order")
            #expect(try await order.get("/orderStatuses/7").json["orderStatus"] == "OrderPlaced")
            try await order.deliver(Self.accepted, from: "productdelivery")
            try await order.deliver(Self.started, from: "productdelivery")
            let view = try await order.get("/orderStatuses/7")
            #expect(view.json["orderStatus"] == "DeliveryStarted" && view.json["couponId"] == "CPN-7-A" && view.json["couponUseYn"] == "Y")
            #expect(view.json["username"] == "HanYongSun" && view.json["productPrice"] == 20000 && view.json["payStatus"] == "Paid")
            #expect(view.json["_links"]?["orderStatus"]?["href"] == "http://localhost/orderStatuses/7", "Spring's relation: the entity's name")

            try await order.deliver(OrderCanceled(id: 7, username: "HanYongSun", userId: "hanys", productId: "1", qty: 1), from: "order")
            try await order.deliver(CouponCanceled(id: 7, orderId: 7, couponId: "CPN-7-A", reason: "order 7 was cancelled"), from: "marketing")
            try await order.deliver(DeliveryCanceled(id: 7, orderId: 7, itemId: "1", qty: 1, stockRestored: true), from: "productdelivery")
            let cancelled = try await order.get("/orderStatuses/search/findByOrderId?orderId=7").embedded("orderStatuses")
            #expect(cancelled.count == 1)
            #expect(cancelled.first?["orderStatus"] == "DeliveryCanceled" && cancelled.first?["payStatus"] == "Cancelled" && cancelled.first?["couponUseYn"] == "N")
            #expect(try await order.get("/orderStatuses/search/findByUserId?userId=hanys").embedded("orderStatuses").count == 1)
            #expect(try await order.get("/orderStatuses/search/findByUserId?userId=nobody").embedded("orderStatuses").isEmpty)
        }
    }

    @Test func eventsThatOvertookOthersMoveNothingBack() async throws {
        try await withService(orderService) { order in
            try await order.deliver(Self.started, from: "productdelivery")
            try await order.deliver(Self.accepted, from: "productdelivery")
            try await order.deliver(Self.placed, from: "order")
            let view = try await order.get("/orderStatuses/7")
            #expect(view.json["orderStatus"] == "DeliveryStarted" && view.json["couponId"] == "CPN-7-A")
            #expect(view.json["username"] == "HanYongSun" && view.json["payStatus"] == "Paid", "the late OrderPlaced still filled the order's fields")
        }
    }

    @Test func aRejectedOrderSaysWhyAndIsRefunded() async throws {
        try await withService(orderService) { order in
            try await order.deliver(Self.placed, from: "order")
            try await order.deliver(Self.accepted, from: "productdelivery")
            try await order.deliver(DeliveryRejected(id: 7, orderId: 7, reason: "product 1 is not stocked"), from: "productdelivery")
            let view = try await order.get("/orderStatuses/7")
            #expect(view.json["orderStatus"] == "DeliveryRejected" && view.json["payStatus"] == "Refunded")
            #expect(view.json["reason"] == "product 1 is not stocked")
        }
    }
}

/// Holds a store's writer until released: a slow database.
final class StoreHold: Sendable {
    private let state = Mutex((held: false, released: false))
    var isHeld: Bool { state.withLock { $0.held } }
    func release() { state.withLock { $0.released = true } }
    func hold() async throws {
        state.withLock { $0.held = true }
        try await eventually("the store released") { self.state.withLock { $0.released } }
    }
}
