import Chassis
import SystemDriver

/// Shop's workload: each client is a customer who orders and, one order in four,
/// cancels the order two iterations back. Every 8th order polls its status (every 5 ms)
/// until it shows `DeliveryStarted`: the order → delivery lag (order's outbox, the log,
/// productdelivery's consumer and queue, the coupon call to marketing, the log again,
/// order's view). The status of the order four back is read otherwise. The seed's limit
/// of three placements in flight is a 503 at once past it: run the system for the
/// benchmark with `ORDER_MAX_IN_FLIGHT` above the client count.
struct ShopBench: Workload {
    let api: SystemClient
    let clients: Int
    var headline: String { "order" }

    func client(_ index: Int, until deadline: ContinuousClock.Instant, progress: BenchProgress) async -> Tally {
        var tally = Tally()
        let calls = BenchCalls(progress: progress)
        var orders: [Int64] = []
        var iteration = 0
        while ContinuousClock.now < deadline {
            iteration += 1
            let measuring = progress.isMeasuring
            guard let id = await calls.create("order", into: &tally, measuring, {
                try await api.post("/orders", ShopSeed.order(username: "customer\(index)", productId: String(1 + index % 3), userId: "bench\(index)"))
            }) else { continue }
            let placed = ContinuousClock.now
            orders.append(id)
            if iteration % 8 == 0 {
                await calls.lag("delivery started lag", since: placed, into: &tally, measuring) {
                    (try? await api.get("/orderStatuses/\(id)").body?["orderStatus"]) == "DeliveryStarted"
                }
            } else if orders.count > 4 {
                _ = await calls.call("status read", into: &tally, measuring, expect: 200) { try await api.get("/orderStatuses/\(orders[orders.count - 5])") }
            }
            if iteration % 4 == 2, orders.count > 2 {
                _ = await calls.call("cancel", into: &tally, measuring, expect: 200) { try await api.patch("/orders/\(orders[orders.count - 3])", ShopSeed.cancel) }
            }
        }
        return tally
    }
}
