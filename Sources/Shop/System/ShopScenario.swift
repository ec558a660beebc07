import Chassis
import SystemDriver

/// The Shop seed's demonstration (`spec/shop-delivery.md`), in order, through the
/// gateway on 8088: an order paid and taken in, its coupon issued and only then its
/// delivery started; the seed's `POST /ordermgmts` taking nothing in twice; the seed's
/// `PATCH /orders/5 orderStatus="orderCanceled"` unwinding payment → coupon → delivery →
/// stock → status; an order of a product not stocked refunded; then productdelivery
/// stopped (orders still taken) and started (caught up), and marketing stopped (delivery
/// waits for the coupon) and started (coupon issued, delivery started). Each run places
/// new orders, so it passes again on the same data.
struct ShopScenario {
    let api: SystemClient
    let control: any SystemControl
    let run = ScenarioRunner()

    func stock(_ productId: Int) async throws -> Int64 {
        guard let qty = try await api.get("/stocks/\(productId)").body?["qty"]?.int64Value else { throw StepFailure("no stock of product \(productId)") }
        return qty
    }

    func perform() async -> Bool {
        var first: Int64 = 0
        var stockBefore: Int64 = 0
        await run.step("POST /orders → 201 paid; taken in (OrderAccepted), coupon issued, then delivery started and the stock taken") {
            stockBefore = try await stock(1)
            let answer = try await api.post("/orders", ShopSeed.order())
            try expect(answer, 201, "POST /orders")
            first = try answer.id()
            guard answer.body?["payStatus"] == "Paid", answer.body?["orderStatus"] == "orderPlaced",
                  answer.headers["location"]?.hasSuffix("/orders/\(first)") == true else { throw StepFailure("order: \(answer.summary)") }
            try await api.waitFor("/orderStatuses/\(first)", "orderStatus", "DeliveryStarted")
            let status = try await api.get("/orderStatuses/\(first)")
            let coupon = try await api.get("/promotes/\(first)")
            guard coupon.body?["status"] == "Published", let couponId = coupon.body?["couponId"]?.stringValue, status.body?["couponId"]?.stringValue == couponId
            else { throw StepFailure("coupon: \(coupon.summary); status \(status.summary)") }
            try await api.waitFor("/ordermgmts/\(first)", "orderStatus", "DeliveryStarted")
            let after = try await stock(1)
            guard after == stockBefore - 1 else { throw StepFailure("stock \(stockBefore) → \(after)") }
            return "order \(first) Paid → OrderAccepted → coupon \(couponId) → DeliveryStarted; ITbook stock \(stockBefore) → \(after)"
        }
        await run.step("the seed's POST /ordermgmts orderId=… orderStatus=order → the acceptance already made; nothing taken in twice") {
            let again = try await api.post("/ordermgmts", ShopSeed.orderMgmt(orderId: first))
            try expect(again, 201, "POST /ordermgmts")
            guard again.body?["orderStatus"] == "DeliveryStarted", try await stock(1) == stockBefore - 1,
                  try await api.get("/ordermgmts/search/findByOrderId?orderId=\(first)").items("ordermgmts").count == 1
            else { throw StepFailure("acceptance: \(again.summary)") }
            return "ordermgmt \(first) answered as it is (DeliveryStarted), one acceptance, stock unchanged"
        }
        await run.step("PATCH /orders/{id} orderStatus=orderCanceled → payment cancelled → coupon cancelled → delivery cancelled, stock back → status") {
            let cancelled = try await api.patch("/orders/\(first)", ShopSeed.cancel)
            try expect(cancelled, 200, "PATCH /orders/\(first)")
            guard cancelled.body?["orderStatus"] == "orderCanceled", cancelled.body?["payStatus"] == "Cancelled" else {
                throw StepFailure("cancel: \(cancelled.summary)")
            }
            try await api.waitFor("/promotes/\(first)", "status", "Canceled")
            try await api.waitFor("/ordermgmts/\(first)", "orderStatus", "DeliveryCanceled")
            try await api.waitFor("/orderStatuses/\(first)", "orderStatus", "DeliveryCanceled")
            let restored = try await stock(1)
            guard restored == stockBefore else { throw StepFailure("stock \(restored), expected \(stockBefore)") }
            let same = try await api.patch("/orders/\(first)", ShopSeed.cancel)
            let other = try await api.patch("/orders/\(first)", ["address": "seoul"])
            guard same.status == 200, other.status == 409 else { throw StepFailure("other PATCHes: \(same.summary); \(other.summary)") }
            return "payStatus Cancelled; coupon Canceled; delivery DeliveryCanceled; stock back to \(restored); a second PATCH 200 with nothing published, an address PATCH 409"
        }
        await run.step("an order of a product not stocked → DeliveryRejected, refunded, the status says why") {
            let order = try await api.post("/orders", ShopSeed.order(productId: "99", productName: "Unobtainium"))
            try expect(order, 201, "POST /orders")
            let id = try order.id()
            try await api.waitFor("/orderStatuses/\(id)", "orderStatus", "DeliveryRejected")
            try await api.waitFor("/orders/\(id)", "payStatus", "Refunded")
            let reason = try await api.get("/orderStatuses/\(id)").body?["reason"]?.stringValue ?? ""
            guard reason.contains("not stocked"), try await api.get("/promotes/\(id)").status == 404 else { throw StepFailure("rejection: \(reason)") }
            return "order \(id): DeliveryRejected (\(reason)), payStatus Refunded, no coupon"
        }
        await run.step("productdelivery stopped → orders still taken; started → caught up, delivery started") {
            try await control.stop("productdelivery")
            let order = try await api.post("/orders", ShopSeed.order(qty: 2))
            try expect(order, 201, "POST /orders with productdelivery down")
            let id = try order.id()
            try await api.waitFor("/orderStatuses/\(id)", "orderStatus", "OrderPlaced")
            try await control.start("productdelivery")
            try await api.waitFor("/orderStatuses/\(id)", "orderStatus", "DeliveryStarted")
            return "order \(id) taken with productdelivery down (OrderPlaced); back: DeliveryStarted"
        }
        await run.step("marketing stopped → the order is accepted and waits for its coupon; started → coupon issued, delivery started") {
            try await control.stop("marketing")
            let before = try await stock(1)
            let order = try await api.post("/orders", ShopSeed.order())
            try expect(order, 201, "POST /orders with marketing down")
            let id = try order.id()
            try await api.waitFor("/ordermgmts/\(id)", "orderStatus", "OrderAccepted")
            try await api.waitFor("/orderStatuses/\(id)", "orderStatus", "OrderAccepted")
            guard try await stock(1) == before else { throw StepFailure("stock taken without a coupon") }
            try await control.start("marketing")
            try await api.waitFor("/orderStatuses/\(id)", "orderStatus", "DeliveryStarted")
            let coupon = try await api.get("/promotes/\(id)")
            guard coupon.body?["status"] == "Published", try await stock(1) == before - 1 else { throw StepFailure("coupon: \(coupon.summary)") }
            return "order \(id) OrderAccepted with marketing down, stock untouched; back: coupon \(coupon.body?["couponId"]?.stringValue ?? ""), DeliveryStarted, stock -1"
        }
        print(run.failed == 0 ? "shop scenario: all \(run.passed) steps passed" : "shop scenario: \(run.failed) of \(run.passed + run.failed) steps failed")
        return run.failed == 0
    }
}
