import Chassis
import SystemDriver

/// The Cafe seed's transcript (`spec/cafe-delivery.md`, "Seed scenario"), in order, through
/// the gateway: an order, its drink made, its delivery started, the order cancelled (the
/// delivery cancellation first), the ledger and the delivery page; then delivery stopped
/// (drinks still made, a DELETE refused with 503 and the order kept) and started again
/// (its deliveries catch up). Each run places new orders, so it passes again on the same
/// data.
struct CafeScenario {
    let api: SystemClient
    let control: any SystemControl
    let run = ScenarioRunner()

    func perform() async -> Bool {
        var first: Int64 = 0
        await run.step("order: POST /orders phoneNumber=01082947794 productName=coffee qty=3 amt=6000 → 201 Ordered; paid; a drink to make") {
            let answer = try await api.post("/orders", CafeSeed.order())
            try expect(answer, 201, "POST /orders")
            first = try answer.id()
            guard answer.body?["status"] == "Ordered", answer.body?["qty"] == 3, answer.body?["amt"] == 6000,
                  answer.body?["createTime"]?.stringValue?.hasSuffix("+0000") == true, answer.headers["location"]?.hasSuffix("/orders/\(first)") == true
            else { throw StepFailure("order: \(answer.summary)") }
            try await api.waitFor("/payments/\(first)", "status", "Paid")
            try await api.waitFor("/drinks/\(first)", "status", "Ordered")
            return "order \(first) Ordered (createTime \(answer.body?["createTime"]?.stringValue ?? "")); payment Paid; drink \(first) Ordered"
        }
        await run.step("PATCH /drinks/{id} status=Made → 200 Made; GET /deliveries shows Delivery Started") {
            let made = try await api.patch("/drinks/\(first)", CafeSeed.made)
            try expect(made, 200, "PATCH /drinks/\(first)")
            guard made.body?["status"] == "Made", made.body?["orderId"]?.int64Value == first else { throw StepFailure("drink: \(made.summary)") }
            try await api.waitFor("/deliveries/\(first)", "status", "Delivery Started")
            let again = try await api.patch("/drinks/\(first)", CafeSeed.made)
            try expect(again, 409, "making the drink twice")
            return "drink \(first) Made, delivery \(first) Delivery Started; a second PATCH 409 \(again.body?["error"]?.stringValue ?? "")"
        }
        await run.step("DELETE /orders/{id} → 204; GET /cancellations shows Delivery Cancelled; refunded; the delivery page says Delivery Cancelled with its amt") {
            let deleted = try await api.delete("/orders/\(first)")
            try expect(deleted, 204, "DELETE /orders/\(first)")
            try expect(try await api.get("/orders/\(first)"), 404, "the deleted order")
            try await api.waitFor("/cancellations/\(first)", "status", "Delivery Cancelled")
            try await api.waitFor("/payments/\(first)", "status", "Refunded")
            try await api.waitFor("/deliveries/\(first)", "status", "Delivery Cancelled")
            try await api.waitFor("/deliverypages/\(first)", "status", "Delivery Cancelled")
            let page = try await api.get("/deliverypages/search/findByOrderId?orderId=\(first)").items("deliverypages")
            guard page.count == 1, page[0]["amt"] == 6000 else { throw StepFailure("delivery page: \(page)") }
            return "order \(first) gone; cancellation recorded; payment Refunded; delivery and page Delivery Cancelled, amt 6000"
        }
        await run.step("delivery stopped → a drink is still made; DELETE is 503 + Retry-After and the order stays; delivery back → Delivery Started") {
            let order = try await api.post("/orders", CafeSeed.order(productName: "latte", qty: 1, amt: 4500))
            try expect(order, 201, "POST /orders")
            let id = try order.id()
            try await api.waitFor("/drinks/\(id)", "status", "Ordered")
            try await control.stop("delivery")
            try expect(try await api.patch("/drinks/\(id)", CafeSeed.made), 200, "PATCH /drinks/\(id) with delivery down")
            let refused = try await api.delete("/orders/\(id)")
            guard refused.status == 503, refused.headers["retry-after"] != nil else { throw StepFailure("DELETE with delivery down: \(refused.summary)") }
            try expect(try await api.get("/orders/\(id)"), 200, "the order after a refused DELETE")
            guard try await api.get("/payments/\(id)").body?["status"] == "Paid" else { throw StepFailure("refunded while the order stays") }
            try await control.start("delivery")
            try await api.waitFor("/deliveries/\(id)", "status", "Delivery Started")
            try await api.waitFor("/deliverypages/\(id)", "status", "Delivery Started")
            return "drink \(id) Made with delivery down; DELETE 503 (\(refused.body?["error"]?.stringValue ?? "")), order kept, still Paid; delivery back: Delivery Started"
        }
        await run.step("an order cancelled before its drink is made → the drink is stopped, never made; no delivery") {
            let order = try await api.post("/orders", CafeSeed.order(productName: "tea", qty: 2, amt: 7000))
            let id = try order.id()
            try await api.waitFor("/drinks/\(id)", "status", "Ordered")
            let deleted = try await eventually("the DELETE accepted once delivery's breaker lets calls through") { () -> Answer? in
                let answer = try await api.delete("/orders/\(id)")
                return answer.status == 503 ? nil : answer
            }
            try expect(deleted, 204, "DELETE /orders/\(id)")
            try await api.waitFor("/drinks/\(id)", "status", "Cancelled")
            try expect(try await api.patch("/drinks/\(id)", CafeSeed.made), 409, "making a stopped drink")
            try await api.waitFor("/deliverypages/\(id)", "status", "Delivery Cancelled")
            guard try await api.get("/deliveries/\(id)").status == 404 else { throw StepFailure("a delivery for a drink never made") }
            return "drink \(id) Cancelled, PATCH Made 409, no delivery, page Delivery Cancelled"
        }
        print(run.failed == 0 ? "cafe scenario: all \(run.passed) steps passed" : "cafe scenario: \(run.failed) of \(run.passed + run.failed) steps failed")
        return run.failed == 0
    }
}
