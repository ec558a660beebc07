import Cafe
import Chassis
import ChassisTesting
import Foundation
import SystemDriver
import Testing

/// Cafe run as a user runs it — `msa up cafe`, real processes, real ports — and broken on
/// purpose: delivery stopped, cancellations racing the barista, consumers SIGKILLed.
@Suite("Cafe system (real processes)", .serialized)
struct CafeSystemTests {
    @Test func theSeedScenarioPassesEveryStep() async throws {
        try await RunningSystem.with("cafe") { system in
            let run = try await system.msa(["scenario", "cafe"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("cafe scenario: all 5 steps passed"), "\(run.output)")
        }
    }

    /// Hostile bodies, values, headers, methods, ids and queries on every endpoint: no
    /// 5xx, every 4xx a JSON error, nothing written by a refused request; delivery's
    /// ledger cannot be written through the gateway.
    @Test func theFuzzerFindsNoServerErrorAndEveryRefusalIsJSON() async throws {
        try await RunningSystem.with("cafe") { system in
            let api = system.gateway
            let first = try await placeOrders(1, via: api)
            try await eventually("the first order's drink") { try await api.get("/drinks/\(first[0])").status == 200 }
            let fuzzer = Fuzzer(api: SystemClient(base: api.base), system: cafe.definition, samples: cafe.fuzzSamples)
            let (requests, findings) = try await fuzzer.run()
            #expect(requests > 500, "\(requests) requests")
            #expect(findings.isEmpty, "\(findings.count) of \(requests):\n\(findings.prefix(40).map(\.description).joined(separator: "\n"))")
            for path in ["/cancellations", "/cancellations/1/void"] {
                let outside = try await api.post(path, ["orderId": 1, "status": "Delivery Cancelled", "cancellationId": "x"])
                #expect(outside.status == 404 && outside.body?["error"] != nil, "gateway \(path): \(outside.status) \(outside.text)")
            }
        }
    }

    /// Drinks are made while delivery is down (the seed deleted its deployment); when it
    /// returns every made drink sets off, once. Meanwhile a DELETE is 503 and the order,
    /// its payment and its drink stay; the delivery page answers with every other service
    /// stopped.
    @Test func drinksMadeWhileDeliveryIsDownSetOffWhenItReturns() async throws {
        try await RunningSystem.with("cafe") { system in
            let api = system.gateway
            let ids = try await placeOrders(8, via: api, lanes: 2)
            for id in ids { try await eventually("drink \(id)") { try await api.get("/drinks/\(id)").body?["status"] == "Ordered" } }
            #expect(try await system.msa(["stop", "cafe", "delivery"]).status == 0)
            for id in ids { #expect(try await api.patch("/drinks/\(id)", CafeSeed.made).status == 200) }
            let refused = try await api.send("DELETE", "/orders/\(ids[0])")
            #expect(refused.status == 503 && refused.headers["retry-after"] != nil, "\(refused.text)")
            #expect(try await api.get("/orders/\(ids[0])").status == 200)
            #expect(try await api.get("/payments/\(ids[0])").body?["status"] == "Paid", "no refund for an order that stays")

            #expect(try await system.msa(["start", "cafe", "delivery"]).status == 0)
            for id in ids {
                try await eventually("delivery \(id) started") { try await api.get("/deliverypages/\(id)").body?["status"] == "Delivery Started" }
            }
            #expect(try await total("/deliveries", api) == Int64(ids.count))

            for name in ["order", "payment", "drink", "delivery"] { #expect(try await system.msa(["stop", "cafe", name]).status == 0) }
            #expect(try await api.get("/orders/\(ids[0])").status == 503)
            let pages = try await api.get("/deliverypages?size=50").items("deliverypages")
            #expect(pages.count == ids.count)
        }
    }

    /// Customers cancel while the barista makes their drinks, at the same moment: each
    /// drink is either made (its delivery then cancelled, or never started) or stopped,
    /// never both; every order is refunded once; the page says Delivery Cancelled, with the
    /// delivery's id when the drink had set off.
    @Test func cancellationsRacingTheBaristaStopOrCancelEachDrinkNeverBoth() async throws {
        try await RunningSystem.with("cafe") { system in
            let api = system.gateway
            let ids = try await placeOrders(12, via: api, lanes: 3)
            for id in ids { try await eventually("drink \(id)") { try await api.get("/drinks/\(id)").body?["status"] == "Ordered" } }
            let answers = try await concurrently(ids.count * 2) { lane in
                let id = ids[lane / 2]
                return (lane, lane % 2 == 0 ? try await api.patch("/drinks/\(id)", CafeSeed.made) : try await api.send("DELETE", "/orders/\(id)"))
            }
            for (lane, answer) in answers {
                let allowed = lane % 2 == 0 ? [200, 409] : [204]
                #expect(allowed.contains(answer.status), "lane \(lane): \(answer.status) \(answer.text)")
            }
            var made = 0, stopped = 0
            for id in ids {
                let settled = try await eventually("order \(id) settled") { () -> (String, String?)? in
                    let page = try await api.get("/deliverypages/\(id)").body
                    let drink = try await api.get("/drinks/\(id)").body?["status"]?.stringValue
                    guard page?["status"] == "Delivery Cancelled", try await api.get("/payments/\(id)").body?["status"] == "Refunded",
                          let drink, drink != "Ordered" else { return nil }
                    let delivery = try await api.get("/deliveries/\(id)")
                    return (drink, delivery.status == 200 ? delivery.body?["status"]?.stringValue : nil)
                }
                // The page tells which: a delivery id when the drink set off, null when it never did.
                let page = try await api.get("/deliverypages/\(id)").body
                #expect(settled.1 == nil ? page?["deliveryId"] == .null : page?["deliveryId"]?.int64Value == id, "order \(id): \(settled), page \(page ?? .null)")
                switch settled {
                case ("Made", let delivery): made += 1; #expect(delivery == nil || delivery == "Delivery Cancelled", "order \(id): \(settled)")
                case ("Cancelled", let delivery): stopped += 1; #expect(delivery == nil, "a stopped drink set off: order \(id)")
                default: Issue.record("order \(id): \(settled)")
                }
            }
            #expect(made + stopped == ids.count)
            let refunds = try await system.direct("payment")
            #expect(try await refunds.metric("msa_events_handled_total", #"group="payment""#, #"type="OrderCancelled""#) == Double(ids.count))
        }
    }

    /// order, payment, drink, delivery and deliverycenter SIGKILLed the moment the last
    /// order commits: the supervisor restarts them and every view is complete, once.
    @Test func servicesKilledRightAfterCommitsLoseAndDoubleNothing() async throws {
        try await RunningSystem.with("cafe") { system in
            let api = system.gateway
            let ids = try await placeOrders(30, via: api, lanes: 6)
            for name in ["order", "payment", "drink", "delivery", "deliverycenter"] { try await system.crash(name) }
            try await eventually("every order paid, its drink queued and its page shown", timeout: .seconds(60)) {
                for id in ids {
                    guard try await api.get("/drinks/\(id)").body?["status"] == "Ordered",
                          try await api.get("/deliverypages/\(id)").body?["status"] == "Ordered" else { return false }
                }
                return true
            }
            #expect(try await total("/payments", api) == Int64(ids.count))
            #expect(try await total("/drinks", api) == Int64(ids.count))
            #expect(try await total("/deliverypages", api) == Int64(ids.count))
            let restarts = try await system.msa(["ps", "cafe"]).output
            #expect(restarts.split(separator: "\n").filter { $0.hasSuffix(" 1") }.count == 5, "\(restarts)")
        }
    }
}

/// Places `count` orders of the seed's body over `lanes` concurrent clients; their ids.
func placeOrders(_ count: Int, via api: Web, lanes: Int = 1) async throws -> [Int64] {
    try await concurrently(lanes) { lane in
        var ids: [Int64] = []
        for _ in stride(from: lane, to: count, by: lanes) {
            let answer = try await api.post("/orders", CafeSeed.order())
            guard answer.status == 201, let id = answer.body?["id"]?.int64Value else { throw SystemFailure("POST /orders: \(answer.status) \(answer.text)") }
            ids.append(id)
        }
        return ids
    }.flatMap { $0 }
}
