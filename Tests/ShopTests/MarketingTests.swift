import Chassis
import ChassisTesting
import Shop
import ShopContracts
import ShopMarketing
import Testing

/// marketing: one coupon per order, issued at productdelivery's request; an undone
/// attempt's coupon withdrawn; cancelled with the order, and none issued after.
@Suite struct MarketingTests {
    static func request(_ orderId: Int64 = 5, _ attempt: String = "a") -> CouponRequest {
        CouponRequest(orderId: orderId, userId: "hanys", username: "HanYongSun", phoneNo: "01012341234", productId: "1", requestId: attempt)
    }

    static let canceled = OrderCanceled(id: 5, username: "HanYongSun", userId: "hanys", productId: "1", qty: 1)

    @Test func aCouponIsIssuedOncePerOrderAndARetryGetsItBack() async throws {
        try await withService(marketingService) { marketing in
            let issued = try await marketing.post("/promotes", try JSON.value(Self.request()))
            #expect(issued.status == .created)
            let couponId = try #require(issued.json["couponId"]?.stringValue)
            #expect(couponId.hasPrefix("CPN-5-") && issued.json["status"] == "Published" && issued.json["couponUseYn"] == "Y")
            #expect(issued.json["couponKind"] == "10% off the next order")
            #expect(try await marketing.post("/promotes", try JSON.value(Self.request())).json["couponId"]?.stringValue == couponId)
            try await marketing.expectRefusal(.post, "/promotes", try JSON.encodeString(Self.request(5, "b")), status: 409, saying: "already has coupon")
            #expect(try await marketing.published(CouponPublished.self) == [
                CouponPublished(id: 5, orderId: 5, userId: "hanys", username: "HanYongSun", phoneNo: "01012341234", productId: "1",
                                orderStatus: "OrderAccepted", payStatus: "Paid", couponId: couponId, couponKind: "10% off the next order", couponUseYn: "Y"),
            ])
            try await marketing.expectRefusal(.post, "/promotes", #"{"orderId":"five","requestId":"c"}"#, status: 400, field: "orderId")
            try await marketing.expectRefusal(.post, "/promotes", try JSON.encodeString(Self.request(6, "")), status: 422, field: "requestId")
        }
    }

    @Test func anUndoneAttemptsCouponIsWithdrawnAndAnotherAttemptGetsANewOne() async throws {
        try await withService(marketingService, environment: ["COUPON_KIND": "free delivery"]) { marketing in
            let first = try await marketing.post("/promotes", try JSON.value(Self.request()))
            #expect(first.json["couponKind"] == "free delivery")
            let voided = try await marketing.post("/promotes/5/void", ["requestId": "a"])
            #expect(voided.status == .ok && voided.json == ["orderId": 5, "requestId": "a", "voided": true])
            #expect(try await marketing.get("/promotes/5").status == .notFound)
            #expect(try await marketing.published(CouponVoided.self) == [CouponVoided(id: 5, orderId: 5, couponId: first.json["couponId"]?.stringValue ?? "")])
            try await marketing.expectRefusal(.post, "/promotes", try JSON.encodeString(Self.request()), status: 409, saying: "was voided")
            let second = try await marketing.post("/promotes", try JSON.value(Self.request(5, "b")))
            #expect(second.status == .created && second.json["couponId"] != first.json["couponId"])
            #expect(try await marketing.post("/promotes/5/void", ["requestId": "a"]).status == .ok, "voiding again changes nothing")
            #expect(try await marketing.get("/promotes/5").json["status"] == "Published")
        }
    }

    @Test func aCancelledOrdersCouponIsCancelledOnceAndNoneIsIssuedAfter() async throws {
        try await withService(marketingService) { marketing in
            let issued = try await marketing.post("/promotes", try JSON.value(Self.request()))
            try await marketing.deliver(Self.canceled, from: "order")
            try await marketing.deliver(Self.canceled, from: "order")
            #expect(try await marketing.published(CouponCanceled.self)
                == [CouponCanceled(id: 5, orderId: 5, couponId: issued.json["couponId"]?.stringValue, reason: "order 5 was cancelled")])
            let promote = try await marketing.get("/promotes/5")
            #expect(promote.json["status"] == "Canceled" && promote.json["couponUseYn"] == "N" && promote.json["payStatus"] == "Cancelled")
            let late = try await marketing.post("/promotes", try JSON.value(Self.request(5, "b")))
            #expect(late.status == .created && late.json["status"] == "Canceled", "a request for a cancelled order gets its record, no coupon")
            #expect(try await marketing.post("/promotes/5/void", ["requestId": "a"]).status == .ok)
            #expect(try await marketing.get("/promotes/5").json["status"] == "Canceled", "an undo takes no cancelled coupon back")
            #expect(try await marketing.published(CouponPublished.self).count == 1)
        }
    }

    @Test func anOrderCancelledBeforeItsCouponIsRecordedSoALateRequestGetsNone() async throws {
        try await withService(marketingService) { marketing in
            try await marketing.deliver(Self.canceled, from: "order")
            #expect(try await marketing.published(CouponCanceled.self)
                == [CouponCanceled(id: 5, orderId: 5, couponId: nil, reason: "order 5 was cancelled before a coupon was issued")])
            let late = try await marketing.post("/promotes", try JSON.value(Self.request()))
            #expect(late.json["status"] == "Canceled" && late.json["couponId"] == nil)
            #expect(try await marketing.published(CouponPublished.self).isEmpty)
        }
    }

    @Test func anOrderThatCannotBeDeliveredLosesItsCoupon() async throws {
        try await withService(marketingService) { marketing in
            _ = try await marketing.post("/promotes", try JSON.value(Self.request()))
            try await marketing.deliver(DeliveryRejected(id: 5, orderId: 5, reason: "ITbook is out of stock: 1 ordered, 0 left"), from: "productdelivery")
            try await marketing.deliver(DeliveryRejected(id: 6, orderId: 6, reason: "product 9 is not stocked"), from: "productdelivery")
            #expect(try await marketing.published(CouponCanceled.self).map(\.reason)
                == ["order 5 cannot be delivered: ITbook is out of stock: 1 ordered, 0 left"])
            #expect(try await marketing.get("/promotes/5").json["status"] == "Canceled")
            #expect(try await marketing.get("/promotes/6").status == .notFound)
        }
    }
}
