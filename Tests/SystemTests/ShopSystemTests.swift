import Chassis
import ChassisTesting
import Foundation
import Shop
import Synchronization
import SystemDriver
import Testing

/// Shop run as a user runs it — `msa up shop`, real processes, real ports — and broken on
/// purpose: order's store held, marketing down or slow while orders are cancelled,
/// consumers SIGKILLed, productdelivery scaled out over a small stock.
@Suite("Shop system (real processes)", .serialized)
struct ShopSystemTests {
    @Test func theSeedScenarioPassesEveryStep() async throws {
        try await RunningSystem.with("shop") { system in
            let run = try await system.msa(["scenario", "shop"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("shop scenario: all 6 steps passed"), "\(run.output)")
        }
    }

    /// Hostile bodies, values, headers, methods, ids and queries on every endpoint: no
    /// 5xx, every 4xx a JSON error, nothing written by a refused request; marketing's
    /// coupons cannot be issued or voided through the gateway.
    @Test func theFuzzerFindsNoServerErrorAndEveryRefusalIsJSON() async throws {
        try await RunningSystem.with("shop") { system in
            let api = system.gateway
            let first = try await placeShopOrders(1, via: api)
            try await eventually("the first order delivered") { try await api.get("/orderStatuses/\(first[0])").body?["orderStatus"] == "DeliveryStarted" }
            let fuzzer = Fuzzer(api: SystemClient(base: api.base), system: shop.definition, samples: shop.fuzzSamples)
            let (requests, findings) = try await fuzzer.run()
            #expect(requests > 500, "\(requests) requests")
            #expect(findings.isEmpty, "\(findings.count) of \(requests):\n\(findings.prefix(40).map(\.description).joined(separator: "\n"))")
            for path in ["/promotes", "/promotes/1/void"] {
                let outside = try await api.post(path, ["orderId": 1, "username": "x", "phoneNo": "01012341234", "productId": "1", "requestId": "x"])
                #expect(outside.status == 404 && outside.body?["error"] != nil, "gateway \(path): \(outside.status) \(outside.text)")
            }
        }
    }

    /// The seed's circuit breaker with a slow order path: order's SQLite file held by
    /// another process (a replica in a long transaction, a tool). Of six placements at
    /// once, three wait and three are refused at once with 503 + `Retry-After`, while
    /// order still answers its health check; once the file is free the three complete,
    /// and nothing of the refused ones exists anywhere. (Order waits for the lock without
    /// holding its one thread: SQLite's own busy wait stalled the whole process, the
    /// refusals and the health check included, until the file was free.)
    @Test func threePlacementsInFlightAndTheRestRefusedAtOnceWhileOrdersSQLiteFileIsHeld() async throws {
        try await RunningSystem.with("shop") { system in
            let database = try SQLiteStore(path: "\(system.data)/shop/order.sqlite", service: "order")
            let order = try await system.direct("order")
            try await placeSixWhileHeld(database, api: system.gateway) {
                let health = try await order.get("/actuator/health/readiness")
                #expect(health.status == 200, "order's health while its file is held: \(health.status) \(health.text)")
            }
        }
    }

    /// The same on PostgreSQL + JetStream: order's schema held by another writer.
    @Test func threePlacementsInFlightAndTheRestRefusedAtOnceWithNothingHalfDone() async throws {
        try await withPostgresDatabase { url in
          try await PrivateNATS.with { nats in
            try await RunningSystem.with("shop", arguments: ["--store", url, "--bus", nats.url]) { system in
                try await placeSixWhileHeld(try await PostgresStore(url: url, schema: "shop_order", service: "order"), api: system.gateway)
            }
          }
        }
    }

    /// Holds order's store, places six orders at once and checks three wait and three are
    /// refused at once (then `meanwhile`), releases it, and checks that exactly the three
    /// exist, each delivered once.
    private func placeSixWhileHeld(_ database: any Store, api: Web, meanwhile: () async throws -> Void = {}) async throws {
        let hold = DatabaseHold()
        async let held: Void = database.write { tx in
            try await tx.put("heldByTest", id: 1, body: Data("{}".utf8))
            try await hold.hold()
            throw DatabaseHold.Released()
        }
        try await eventually("order's database held") { hold.isHeld }
        let answered = Counter()
        async let placed = concurrently(6) { _ in
            let answer = try await api.post("/orders", ShopSeed.order(username: "Limit"))
            answered.add()
            return answer
        }
        try await eventually("three refused while the database is held") { answered.value == 3 }
        try await meanwhile()
        #expect(answered.value == 3, "the other three still wait")
        hold.release()
        _ = try? await held
        let answers = try await placed
        #expect(answers.filter { $0.status == 201 }.count == 3, "\(answers.map(\.status))")
        let refused = answers.filter { $0.status == 503 }
        #expect(refused.count == 3 && refused.allSatisfy { $0.headers["retry-after"] == "1" }, "\(refused.map(\.text))")
        #expect(try await total("/orders", api) == 3)
        try await eventually("three delivered, no more") {
            try await api.get("/ordermgmts/search/findByOrderStatus?orderStatus=DeliveryStarted").items("ordermgmts").count == 3
        }
        #expect(try await total("/orderStatuses", api) == 3)
        #expect(try await total("/promotes", api) == 3)
        try await database.close()
    }

    /// Marketing down: orders are taken and accepted, no delivery sets off without a
    /// coupon and no stock moves; marketing back: every coupon issued once and every
    /// delivery started, the stock taken once each. Then the status view answers with
    /// productdelivery and marketing stopped.
    @Test func noDeliveryWithoutACouponWhileMarketingIsDownAndAllOnceItReturns() async throws {
        try await RunningSystem.with("shop") { system in
            let api = system.gateway
            #expect(try await system.msa(["stop", "shop", "marketing"]).status == 0)
            let ids = try await placeShopOrders(10, via: api, lanes: 2)
            for id in ids { try await eventually("order \(id) accepted") { try await api.get("/ordermgmts/\(id)").body?["orderStatus"] == "OrderAccepted" } }
            #expect(try await stock(1, api) == 1000, "no stock taken without a coupon")
            #expect(try await api.get("/ordermgmts/search/findByOrderStatus?orderStatus=DeliveryStarted").items("ordermgmts").isEmpty)

            #expect(try await system.msa(["start", "shop", "marketing"]).status == 0)
            for id in ids {
                try await eventually("order \(id) delivered", timeout: .seconds(60)) {
                    try await api.get("/orderStatuses/\(id)").body?["orderStatus"] == "DeliveryStarted"
                }
                let coupon = try await api.get("/promotes/\(id)").body
                let shown = try await api.get("/orderStatuses/\(id)").body?["couponId"]
                #expect(coupon?["status"] == "Published" && coupon?["couponId"] == shown, "order \(id): \(coupon ?? .null)")
            }
            #expect(try await stock(1, api) == 1000 - Int64(ids.count))
            #expect(try await total("/promotes", api) == Int64(ids.count))

            // The customer's status view is order's own: it answers with the others stopped.
            for name in ["productdelivery", "marketing"] { #expect(try await system.msa(["stop", "shop", name]).status == 0) }
            #expect(try await api.get("/ordermgmts/\(ids[0])").status == 503)
            let shown = try await api.get("/orderStatuses/search/findByUserId?userId=hanys&size=50").items("orderStatuses")
            #expect(shown.count == ids.count && shown.allSatisfy { $0["orderStatus"] == "DeliveryStarted" && $0["couponId"] != nil })
        }
    }

    /// Cancellations while the coupon calls are in flight (marketing slowed to 200–500
    /// ms, inside productdelivery's 610 ms timeout): every cancelled order ends with its
    /// coupon cancelled, its delivery cancelled and its stock back; every other is
    /// delivered with the one coupon it holds; the stock adds up.
    @Test func cancellationsDuringPendingCouponCallsLeaveNoCouponBehind() async throws {
        try await RunningSystem.with("shop", environment: ["MARKETING_DELAY_MS": "200-500"]) { system in
            let api = system.gateway
            let ids = try await placeShopOrders(12, via: api, lanes: 3)
            let cancelled = Set(ids.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
            for id in cancelled { #expect(try await api.patch("/orders/\(id)", ShopSeed.cancel).status == 200) }
            try await expectSettled(ids, cancelled: cancelled, via: api)
        }
    }

    /// Marketing frozen (SIGSTOP) past productdelivery's timeout: the coupon calls time
    /// out and are undone — the undo waits too — and some orders are cancelled meanwhile.
    /// Marketing resumed: the late calls' coupons are withdrawn, each order's next attempt
    /// gets the one coupon it keeps, and the cancelled orders keep none.
    @Test func couponCallsTimedOutWhileMarketingIsFrozenAreUndoneAndNoCouponIsLeftBehind() async throws {
        try await RunningSystem.with("shop") { system in
            let api = system.gateway
            let productDelivery = try await system.direct("productdelivery")
            try await system.pause("marketing")
            let ids = try await placeShopOrders(6, via: api, lanes: 2)
            try await eventually("coupon calls timed out", timeout: .seconds(30)) {
                try await productDelivery.metric("msa_gated_calls_total", #"call="marketing.issue""#, #"outcome="undo""#) >= 1
            }
            let cancelled = Set(ids.prefix(3))
            for id in cancelled { #expect(try await api.patch("/orders/\(id)", ShopSeed.cancel).status == 200) }
            try await system.resume("marketing")
            try await expectSettled(ids, cancelled: cancelled, via: api)
            #expect(try await productDelivery.metric("msa_gated_calls_undone_total", #"call="marketing.issue""#) >= 1)
        }
    }

    /// order, productdelivery and marketing SIGKILLed the moment the last order commits:
    /// the supervisor restarts them and every order is delivered once, its status view
    /// complete, one coupon each, the stock taken once each.
    @Test func servicesKilledRightAfterCommitsLoseAndDoubleNothing() async throws {
        try await RunningSystem.with("shop") { system in
            let api = system.gateway
            let ids = try await placeShopOrders(30, via: api, lanes: 6)
            for name in ["order", "productdelivery", "marketing"] { try await system.crash(name) }
            try await eventually("every order delivered and shown", timeout: .seconds(90)) {
                for id in ids where try await api.get("/orderStatuses/\(id)").body?["orderStatus"] != "DeliveryStarted" { return false }
                return true
            }
            #expect(try await total("/ordermgmts", api) == Int64(ids.count))
            #expect(try await total("/promotes", api) == Int64(ids.count))
            #expect(try await total("/orderStatuses", api) == Int64(ids.count))
            #expect(try await stock(1, api) == 1000 - Int64(ids.count))
            let restarts = try await system.msa(["ps", "shop"]).output
            #expect(restarts.split(separator: "\n").filter { $0.hasSuffix(" 1") }.count == 3, "\(restarts)")
        }
    }

    /// productdelivery scaled out over a stock of five: of twelve orders, exactly five are
    /// delivered and seven rejected and refunded; the stock ends at zero, never below.
    @Test func twoProductDeliveryReplicasNeverOversell() async throws {
        try await RunningSystem.with("shop", arguments: ["--replicas", "productdelivery=2"], environment: ["STOCK_INITIAL": "1:ITbook=5"]) { system in
            let api = system.gateway
            let ids = try await placeShopOrders(12, via: api, lanes: 4)
            var started = 0, rejected = 0
            for id in ids {
                let status = try await eventually("order \(id) settled", timeout: .seconds(60)) { () -> String? in
                    let status = try await api.get("/orderStatuses/\(id)").body?["orderStatus"]?.stringValue
                    return status == "DeliveryStarted" || status == "DeliveryRejected" ? status : nil
                }
                if status == "DeliveryStarted" { started += 1 } else {
                    rejected += 1
                    try await eventually("order \(id) refunded") { try await api.get("/orders/\(id)").body?["payStatus"] == "Refunded" }
                }
            }
            #expect(started == 5 && rejected == 7, "started \(started), rejected \(rejected)")
            #expect(try await stock(1, api) == 0)
            for replica in ["productdelivery", "productdelivery#2"] {
                let direct = try await system.direct(replica)
                #expect(try await direct.get("/stocks/1").body?["qty"] == 0, "\(replica)")
            }
        }
    }
}

/// Places `count` of the seed's orders over `lanes` concurrent clients; their ids. A
/// placement refused by the seed's limit of three in flight is tried again, as the
/// customer is told to.
func placeShopOrders(_ count: Int, via api: Web, lanes: Int = 1) async throws -> [Int64] {
    try await concurrently(lanes) { lane in
        var ids: [Int64] = []
        for _ in stride(from: lane, to: count, by: lanes) {
            let answer = try await eventually("a placement taken") { () -> Reply? in
                let answer = try await api.post("/orders", ShopSeed.order())
                return answer.status == 503 ? nil : answer
            }
            guard answer.status == 201, let id = answer.body?["id"]?.int64Value else { throw SystemFailure("POST /orders: \(answer.status) \(answer.text)") }
            ids.append(id)
        }
        return ids
    }.flatMap { $0 }
}

/// Waits until each of `ids` is delivered, or cancelled when in `cancelled`, at
/// productdelivery and in the status view; then checks the coupons and the stock: one
/// Published coupon per delivered order (the one its delivery carries), a Canceled record
/// per cancelled order, the stock taken once per delivered order.
func expectSettled(_ ids: [Int64], cancelled: Set<Int64>, via api: Web, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let before = 1000 - Int64(ids.count - cancelled.count)
    for id in ids {
        let want = cancelled.contains(id) ? "DeliveryCanceled" : "DeliveryStarted"
        try await eventually("order \(id) \(want)", timeout: .seconds(90)) {
            let delivery = try await api.get("/ordermgmts/\(id)").body?["orderStatus"]?.stringValue
            let shown = try await api.get("/orderStatuses/\(id)").body?["orderStatus"]?.stringValue
            return delivery == want && shown == want
        }
        let coupon = try await api.get("/promotes/\(id)").body
        if cancelled.contains(id) {
            #expect(coupon?["status"] == "Canceled" && coupon?["couponUseYn"] == "N", "order \(id): \(coupon ?? .null)", sourceLocation: sourceLocation)
        } else {
            let delivered = try await api.get("/ordermgmts/\(id)").body?["couponId"]
            #expect(coupon?["status"] == "Published" && coupon?["couponId"] == delivered, "order \(id): \(coupon ?? .null)", sourceLocation: sourceLocation)
        }
    }
    #expect(try await stock(1, api) == before, sourceLocation: sourceLocation)
    let published = try await api.get("/promotes/search/findByUserId?userId=hanys&size=100").items("promotes").filter { $0["status"] == "Published" }
    #expect(published.count == ids.count - cancelled.count, "\(published)", sourceLocation: sourceLocation)
}

func stock(_ product: Int, _ api: Web) async throws -> Int64 {
    guard let qty = try await api.get("/stocks/\(product)").body?["qty"]?.int64Value else { throw SystemFailure("no stock of product \(product)") }
    return qty
}

/// Holds a database's writer from outside the service until released.
final class DatabaseHold: Sendable {
    struct Released: Error {}
    private let state = Mutex((held: false, released: false))
    var isHeld: Bool { state.withLock { $0.held } }
    func release() { state.withLock { $0.released = true } }
    func hold() async throws {
        state.withLock { $0.held = true }
        try await eventually("the database released", timeout: .seconds(30)) { self.state.withLock { $0.released } }
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
