import Chassis
import SystemDriver

/// Cafe's workload: each client is a customer who orders, and a barista who makes the
/// drink of the order two iterations back; one order in four is cancelled instead, before
/// its drink is made. Every 8th order polls the delivery page (every 5 ms) until it shows
/// the order: the order → delivery-page lag (order's outbox, the log, deliverycenter's
/// consumer). The delivery center's page of the order four back is read otherwise.
/// Drink and page ids are order ids (one of each per order).
struct CafeBench: Workload {
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
                try await api.post("/orders", CafeSeed.order(phoneNumber: "0101000\(1000 + index)"))
            }) else { continue }
            let placed = ContinuousClock.now
            orders.append(id)
            if iteration % 8 == 0 {
                await calls.lag("delivery page lag", since: placed, into: &tally, measuring) { (try? await api.get("/deliverypages/\(id)").status) == 200 }
            } else if orders.count > 4 {
                _ = await calls.call("delivery page read", into: &tally, measuring, expect: 200) { try await api.get("/deliverypages/\(orders[orders.count - 5])") }
            }
            if orders.count > 2 {
                let earlier = orders[orders.count - 3]
                if iteration % 4 == 0 {
                    _ = await calls.call("cancel", into: &tally, measuring, expect: 204) { try await api.delete("/orders/\(earlier)") }
                } else {
                    _ = await calls.call("make drink", into: &tally, measuring, expect: 200) { try await api.patch("/drinks/\(earlier)", CafeSeed.made) }
                }
            }
        }
        return tally
    }
}
