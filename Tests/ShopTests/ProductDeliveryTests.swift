import Chassis
import ChassisTesting
import Shop
import ShopContracts
import ShopProductDelivery
import Testing

/// productdelivery: every paid order taken in once, its stock checked; a coupon from
/// marketing before delivery sets off, retried while marketing cannot answer; the stock
/// taken once and put back once; never negative.
@Suite struct ProductDeliveryTests {
    /// Marketing's stand-in: approves with a coupon named after the order (or `status`).
    static func marketing(_ behaviour: TargetStub.Behaviour = .approving, status: String = "Published") -> TargetStub {
        TargetStub(behaviour, call: "promotes", undo: "promotes/:id/void") { request in
            let order = request["orderId"]?.int64Value ?? 0
            return status == "Published"
                ? ["orderId": .number(Double(order)), "couponId": .string("CPN-\(order)"), "couponKind": "10% off", "couponUseYn": "Y", "status": "Published"]
                : ["orderId": .number(Double(order)), "couponUseYn": "N", "status": .string(status)]
        }
    }

    static func placed(_ id: Int64, productId: String = "1", qty: Int = 1) -> OrderPlaced {
        OrderPlaced(id: id, username: "HanYongSun", address: "kyungkido sungnamsi", phoneNo: "01012341234", productId: productId, productName: "ITbook",
                    productPrice: 20000, qty: qty, userId: "hanys", orderDate: "2021-09-15T01:02:03.456+0000")
    }

    /// productdelivery with marketing played by `marketing` on a live port.
    func withProductDelivery(marketing: TargetStub = marketing(), environment: [String: String] = [:],
                             _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
        try await withLiveServer(marketing.router) { port in
            let settings = ["MARKETING_URL": "http://127.0.0.1:\(port)", "MARKETING_TIMEOUT_MS": "5000", "MARKETING_RETRIES": "0"]
                .merging(environment) { _, given in given }
            try await withService(productDeliveryService, environment: settings, body)
        }
    }

    func stock(_ rig: ServiceRig, _ id: Int = 1) async throws -> Int? { try await rig.get("/stocks/\(id)").json["qty"]?.int64Value.map(Int.init) }

    @Test func aPaidOrderIsTakenInOnceThenGetsItsCouponThenSetsOffWithTheStockTaken() async throws {
        let marketing = Self.marketing()
        try await withProductDelivery(marketing: marketing) { delivery in
            try await delivery.deliver(Self.placed(5), from: "order")
            try await delivery.deliver(Self.placed(5), from: "order")
            let accepted = try await delivery.published(OrderAccepted.self)
            #expect(accepted == [OrderAccepted(id: 5, orderId: 5, itemId: "1", itemName: "ITbook", qty: 1, customerName: "HanYongSun",
                                               deliveryAddress: "kyungkido sungnamsi", deliveryPhoneNumber: "01012341234", userId: "hanys")])
            #expect(try await delivery.get("/ordermgmts/5").json["orderStatus"] == "OrderAccepted")

            #expect(marketing.calls.isEmpty, "queued, not yet called")
            try await delivery.host.runQueuedEvents()
            let asked = try #require(marketing.calls.first)
            #expect(asked["orderId"] == 5 && asked["username"] == "HanYongSun" && asked["productId"] == "1" && asked["payStatus"] == "Paid")
            #expect(asked["requestId"]?.stringValue?.isEmpty == false)
            #expect(try await delivery.published(DeliveryStarted.self)
                == [DeliveryStarted(id: 5, orderId: 5, itemId: "1", qty: 1, couponId: "CPN-5", couponKind: "10% off", couponUseYn: "Y")])
            let order = try await delivery.get("/ordermgmts/5")
            #expect(order.json["orderStatus"] == "DeliveryStarted" && order.json["couponId"] == "CPN-5" && order.json["stockTaken"] == true)
            #expect(try await stock(delivery) == 999)
        }
    }

    @Test func marketingUnavailableLeavesTheOrderAcceptedAndTheStockUntilACouponIsIssued() async throws {
        let marketing = Self.marketing(.failing)
        try await withProductDelivery(marketing: marketing) { delivery in
            try await delivery.deliver(Self.placed(5), from: "order")
            for _ in 0..<3 {
                try await delivery.host.runQueuedEvents()
                try await delivery.host.undoPendingCalls()
            }
            #expect(marketing.calls.count >= 1)
            #expect(try await delivery.published(DeliveryStarted.self).isEmpty)
            #expect(try await delivery.get("/ordermgmts/5").json["orderStatus"] == "OrderAccepted")
            #expect(try await delivery.get("/stocks/1").status == .notFound, "no stock moved")
            #expect(try await delivery.store.deadLetters(limit: 10).isEmpty, "unavailability is retried, never parked")

            marketing.behave(.approving)
            try await eventually("delivery set off once marketing answered") {
                try await delivery.host.undoPendingCalls()
                try await delivery.host.runQueuedEvents()
                return try await delivery.published(DeliveryStarted.self).count == 1
            }
            #expect(try await stock(delivery) == 999, "taken once")
            #expect(marketing.undos.count == marketing.calls.count - 1, "every failed attempt was undone before the next: \(marketing.undos.count) of \(marketing.calls.count)")
        }
    }

    @Test func anOrderNotInStockIsRejectedWithoutACouponAndOneNotStockedToo() async throws {
        let marketing = Self.marketing()
        try await withProductDelivery(marketing: marketing, environment: ["STOCK_INITIAL": "1:ITbook=2"]) { delivery in
            try await delivery.deliver(Self.placed(5, qty: 3), from: "order")
            try await delivery.deliver(Self.placed(6, productId: "9"), from: "order")
            try await delivery.host.runQueuedEvents()
            #expect(marketing.calls.isEmpty)
            #expect(try await delivery.published(DeliveryRejected.self) == [
                DeliveryRejected(id: 5, orderId: 5, reason: "ITbook is out of stock: 3 ordered, 2 left"),
                DeliveryRejected(id: 6, orderId: 6, reason: "product 9 is not stocked"),
            ])
            #expect(try await delivery.get("/ordermgmts/5").json["orderStatus"] == "DeliveryRejected")
            #expect(try await delivery.published(DeliveryStarted.self).isEmpty)
        }
    }

    @Test func theLastUnitGoesToOneOrderAndTheOtherIsRejectedAfterItsCoupon() async throws {
        try await withProductDelivery(environment: ["STOCK_INITIAL": "1:ITbook=1"]) { delivery in
            try await delivery.deliver(Self.placed(5), from: "order")
            try await delivery.deliver(Self.placed(6), from: "order")
            try await delivery.host.runQueuedEvents()
            #expect(try await delivery.published(DeliveryStarted.self).count == 1)
            let rejected = try await delivery.published(DeliveryRejected.self)
            #expect(rejected.count == 1 && rejected.first?.reason == "ITbook is out of stock: 1 ordered, 0 left")
            #expect(try await stock(delivery) == 0)
        }
    }

    @Test func aCancelledCouponCancelsTheDeliveryAndPutsTheStockBackOnce() async throws {
        try await withProductDelivery { delivery in
            try await delivery.deliver(Self.placed(5, qty: 2), from: "order")
            try await delivery.host.runQueuedEvents()
            #expect(try await stock(delivery) == 998)
            let cancelled = CouponCanceled(id: 5, orderId: 5, couponId: "CPN-5", reason: "order 5 was cancelled")
            try await delivery.deliver(cancelled, from: "marketing")
            try await delivery.deliver(cancelled, from: "marketing")
            #expect(try await delivery.published(DeliveryCanceled.self) == [DeliveryCanceled(id: 5, orderId: 5, itemId: "1", qty: 2, stockRestored: true)])
            #expect(try await stock(delivery) == 1000)
            #expect(try await delivery.get("/ordermgmts/5").json["orderStatus"] == "DeliveryCanceled")
        }
    }

    @Test func aCancellationArrivingWhileTheCouponIsPendingWaitsForItAndNothingSetsOff() async throws {
        let marketing = Self.marketing(status: "Canceled")
        try await withProductDelivery(marketing: marketing) { delivery in
            try await delivery.deliver(Self.placed(5), from: "order")
            try await delivery.deliver(CouponCanceled(id: 5, orderId: 5, couponId: nil, reason: "order 5 was cancelled"), from: "marketing")
            #expect(try await delivery.published(DeliveryCanceled.self).isEmpty, "queued behind the pending coupon call")
            try await delivery.host.runQueuedEvents()
            #expect(marketing.calls.count == 1)
            try await delivery.host.runQueuedEvents()
            #expect(try await delivery.published(DeliveryCanceled.self) == [DeliveryCanceled(id: 5, orderId: 5, itemId: "1", qty: 1, stockRestored: false)])
            #expect(try await delivery.published(DeliveryStarted.self).isEmpty)
            #expect(try await delivery.get("/stocks/1").status == .notFound, "no stock moved")
        }
    }

    @Test func aCouponRequestMarketingAnswersForACancelledOrderStartsNothing() async throws {
        let marketing = Self.marketing(status: "Canceled")
        try await withProductDelivery(marketing: marketing) { delivery in
            try await delivery.deliver(Self.placed(5), from: "order")
            try await delivery.host.runQueuedEvents()
            #expect(marketing.calls.count == 1)
            #expect(try await delivery.published(DeliveryStarted.self).isEmpty)
            #expect(try await delivery.get("/stocks/1").status == .notFound, "no stock moved")
            #expect(try await delivery.get("/ordermgmts/5").json["orderStatus"] == "OrderAccepted", "its CouponCanceled cancels it")
            try await delivery.deliver(CouponCanceled(id: 5, orderId: 5, couponId: nil, reason: "order 5 was cancelled"), from: "marketing")
            #expect(try await delivery.published(DeliveryCanceled.self).map(\.stockRestored) == [false])
        }
    }

    @Test func theSeedsOrdermgmtPostTakesAnOrderInOnceWhicheverComesFirstAndItShipsOnlyOncePaid() async throws {
        let marketing = Self.marketing()
        try await withProductDelivery(marketing: marketing) { delivery in
            let taken = try await delivery.post("/ordermgmts", ShopSeed.orderMgmt(orderId: 1))
            #expect(taken.status == .created)
            #expect(taken.json["orderStatus"] == "OrderAccepted" && taken.json["orderId"] == 1 && taken.json["itemName"] == "ITbook")
            #expect(try await delivery.post("/ordermgmts", ShopSeed.orderMgmt(orderId: 1)).json["id"] == 1)
            try await delivery.host.runQueuedEvents()
            #expect(marketing.calls.isEmpty, "no coupon for an order nobody paid")
            try await delivery.deliver(Self.placed(1), from: "order")
            #expect(try await delivery.published(OrderAccepted.self).count == 1, "taken in once")
            try await delivery.host.runQueuedEvents()
            #expect(try await delivery.get("/ordermgmts/1").json["orderStatus"] == "DeliveryStarted", "paid: the coupon, then the delivery")

            try await delivery.deliver(Self.placed(2), from: "order")
            #expect(try await delivery.post("/ordermgmts", ShopSeed.orderMgmt(orderId: 2)).json["customerName"] == "HanYongSun")
            #expect(try await delivery.published(OrderAccepted.self).count == 2)
        }
    }

    static let seed = ShopSeed.orderMgmt()
    static let badAcceptances = [
        BadInput("malformed JSON", raw: #"{"orderId":"#),
        BadInput("no orderId", seed.without("orderId"), field: "orderId"),
        BadInput("an orderId that is not a number", seed.with(["orderId": "one"]), field: "orderId"),
        BadInput("an orderId of 0", seed.with(["orderId": 0]), field: "orderId"),
        BadInput("no itemId", seed.without("itemId"), field: "itemId"),
        BadInput("a qty of 0", seed.with(["qty": "0"]), field: "qty"),
        BadInput("an empty customerName", seed.with(["customerName": ""]), field: "customerName"),
        BadInput("no deliveryAddress", seed.without("deliveryAddress"), field: "deliveryAddress"),
        BadInput("a short deliveryPhoneNumber", seed.with(["deliveryPhoneNumber": "123"]), field: "deliveryPhoneNumber"),
        BadInput("a deliveryPhoneNumber with letters", seed.with(["deliveryPhoneNumber": "010-CALL-ME"]), field: "deliveryPhoneNumber"),
        BadInput("an orderStatus other than order", seed.with(["orderStatus": "DeliveryStarted"]), field: "orderStatus"),
    ]

    @Test(arguments: badAcceptances) func aBadAcceptanceIsRefused(_ bad: BadInput) async throws {
        try await withService(productDeliveryService) { delivery in
            try await delivery.expectRefusal(.post, "/ordermgmts", bad.body, status: bad.status, field: bad.field)
        }
    }

    @Test func theStockIsReadOnlyAndAStockSettingItCannotReadStopsTheService() async throws {
        try await withService(productDeliveryService) { delivery in
            try await delivery.expectRefusal(.post, "/stocks", #"{"productId":"1","qty":5}"#, status: 405)
            try await delivery.expectRefusal(.patch, "/stocks/1", #"{"qty":5}"#, status: 405)
        }
        await #expect(throws: SettingError.self) {
            try await withService(productDeliveryService, environment: ["STOCK_INITIAL": "1:ITbook=lots"]) { _ in }
        }
    }
}
