import Chassis
import ChassisTesting
import Foundation
import NIOCore
import Rental
import SystemDriver
import Testing

/// Rental run as a user runs it — `msa up rental`, real processes, real ports — and
/// broken on purpose: services stopped, killed with SIGKILL, run twice.
@Suite("Rental system (real processes)", .serialized)
struct RentalSystemTests {
    @Test func theSeedScenarioPassesEveryStep() async throws {
        try await RunningSystem.with("rental") { system in
            let run = try await system.msa(["scenario", "rental"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("rental scenario: all 7 steps passed"), "\(run.output)")
        }
    }

    /// The edges as a hostile user meets them: a body over the limit is a 413 with a JSON
    /// error at the gateway (it was a 500 from 8 MB up) and at a service; HEAD answers
    /// through the gateway wherever GET does; payment's approval and void, reserve's calls,
    /// do not exist through the gateway and are a 403 without the system's credential
    /// (a forged payment became the next customer's payment); nothing is created.
    @Test func theEdgesRefuseOversizedBodiesAndForgedPaymentsAndAnswerHead() async throws {
        try await RunningSystem.with("rental") { system in
            let forged: JSONValue = ["matchId": 1, "price": 1, "paymentAction": "Approved", "customer": "mallory",
                                     "startDay": "20210624", "endDay": "20210624"]
            for path in ["/payments", "/payments/1/void"] {
                let outside = try await system.gateway.post(path, forged)
                #expect(outside.status == 404 && outside.body?["error"] != nil, "gateway \(path): \(outside.status) \(outside.text)")
                let direct = try await system.direct("payment").post(path, forged)
                #expect(direct.status == 403 && direct.body?["error"] != nil, "payment \(path): \(direct.status) \(direct.text)")
            }
            #expect(try await total("/payments", system.gateway) == 0)
            let paid = try await request(1, customer: "after-forgery", via: system.gateway)
            #expect(try await system.gateway.get("/payments/\(paid[0])").body?["customer"] == "after-forgery")

            let reserve = try await system.direct("reserve")
            for (web, size) in [(system.gateway, 2 << 20), (system.gateway, 9 << 20), (reserve, 2 << 20)] {
                let reply = try await web.send("POST", "/reserves", raw: ByteBuffer(repeating: UInt8(ascii: " "), count: size))
                #expect(reply.status == 413 && reply.body?["error"] != nil, "\(web.base) \(size): \(reply.status) \(reply.text)")
            }
            #expect(try await total("/reserves", system.gateway) == 1, "only the real request")
            for path in ["/reserves", "/promotions", "/actuator/health"] {
                let head = try await system.gateway.send("HEAD", path, raw: nil)
                #expect(head.status == 200 && head.text.isEmpty, "HEAD \(path): \(head.status) \(head.text)")
            }
            for (method, path, allow) in [("OPTIONS", "/reserves", "GET, HEAD, POST"), ("DELETE", "/payments/1", "GET, HEAD"),
                                          ("TRACE", "/actuator/health", "GET, HEAD")] {
                let refused = try await system.gateway.send(method, path, raw: nil)
                #expect(refused.status == 405 && refused.headers["allow"] == allow && refused.body?["error"] != nil,
                        "\(method) \(path): \(refused.status) \(refused.headers) \(refused.text)")
            }
        }
    }

    /// Hostile bodies, values, headers, methods, ids and queries on every endpoint
    /// (``Fuzzer``, 980 requests): no 5xx, every 4xx a JSON error, and nothing written by a
    /// refused request.
    @Test func theFuzzerFindsNoServerErrorAndEveryRefusalIsJSON() async throws {
        try await RunningSystem.with("rental") { system in
            let fuzzer = Fuzzer(api: SystemClient(base: system.gateway.base), system: rental.definition, samples: rental.fuzzSamples)
            let (requests, findings) = try await fuzzer.run()
            #expect(requests > 900, "\(requests) requests")
            #expect(findings.isEmpty, "\(findings.count) of \(requests):\n\(findings.prefix(40).map(\.description).joined(separator: "\n"))")
        }
    }

    @Test func requestsTakenWhileLendIsDownReachItsListWhenItReturns() async throws {
        try await RunningSystem.with("rental") { system in
            let api = system.gateway
            #expect(try await system.msa(["stop", "rental", "lend"]).status == 0)
            let ids = try await request(10, customer: "while-lend-down", via: api)
            for id in ids { #expect(try await api.get("/payments/\(id)").body?["paymentAction"] == "Approved") }
            let down = try await api.get("/requestLists")
            #expect(down.status == 503 && down.headers["retry-after"] != nil && down.body?["error"] != nil, "\(down.text)")

            #expect(try await system.msa(["start", "rental", "lend"]).status == 0)
            try await eventually("lend's list caught up") {
                try await listed(in: api).filter(ids.contains).count == ids.count
            }
            let list = try await listed(in: api)
            #expect(list.count == Set(list).count, "a request listed twice: \(list)")
        }
    }

    @Test func paymentDownTurnsRequestsAwayWithRetryAfterAndLeavesNothingBehind() async throws {
        try await RunningSystem.with("rental") { system in
            let api = system.gateway
            let reserve = try await system.direct("reserve")
            _ = try await request(1, customer: "before", via: api)
            try await eventually("the first request published") { try await reserve.metric("msa_outbox_backlog") == 0 }
            let published = try await reserve.metric("msa_outbox_published_total")

            #expect(try await system.msa(["stop", "rental", "payment"]).status == 0)
            for _ in 0..<3 {
                let refused = try await api.post("/reserves", RentalSeed.request(customer: "refused"))
                #expect(refused.status == 503, "\(refused.text)")
                #expect(refused.headers["retry-after"].flatMap(Int.init) ?? 0 > 0)
                #expect(refused.body?["error"]?.stringValue?.contains("payment") == true, "\(refused.text)")
            }
            #expect(try await total("/reserves", api) == 1)
            #expect(try await reserve.metric("msa_outbox_published_total") == published, "an event of a refused request was published")
            #expect(try await reserve.metric("msa_outbox_backlog") == 0, "an event of a refused request is waiting in the outbox")

            #expect(try await system.msa(["start", "rental", "payment"]).status == 0)
            // Reserve's breaker opened on those failures: it lets a call through again
            // only after its open period, as Retry-After told the client.
            try await eventually("a request accepted once payment is back") {
                try await api.post("/reserves", RentalSeed.request(customer: "after")).status == 201
            }
            #expect(try await total("/payments", api) == 2, "a payment without a request")
            #expect(try await total("/reserves/search/findByCustomer?customer=refused", api) == 0)
        }
    }

    /// Payment answers after reserve gave up: the request is refused (503), and the payment
    /// that lands late is voided, so no money is kept for a request that does not exist,
    /// and no trace of it stays where a customer or lender looks. Payment is paused
    /// (SIGSTOP) while the approval waits in its socket; the timeout opens the breaker
    /// (`PAYMENT_BREAKER_FAILURES=1`) for 3 s, so the second request is refused without a
    /// call and the undo job waits for the breaker; payment resumes and approves first,
    /// and the void follows once the breaker lets calls through.
    @Test func aPaymentThatLandsAfterTheTimeoutIsVoidedWithoutATrace() async throws {
        let breakerOpensAtOnce = ["PAYMENT_BREAKER_FAILURES": "1", "PAYMENT_BREAKER_OPEN_MS": "3000"]
        try await RunningSystem.with("rental", environment: breakerOpensAtOnce) { system in
            let api = system.gateway
            try await system.pause("payment")
            for _ in 0..<2 {
                let refused = try await api.post("/reserves", RentalSeed.request(customer: "slow"))
                #expect(refused.status == 503 && refused.headers["retry-after"] != nil, "\(refused.text)")
            }
            try await system.resume("payment")
            try await eventually("the late payment approved, then voided, and every view following") {
                let payments = try await api.get("/payments").items("payments")
                guard payments.count == 1, payments[0]["paymentAction"] == "Cancelled", let id = payments[0]["matchId"]?.int64Value
                else { return false }
                let (listed, page) = (try await api.get("/requestLists/\(id)"), try await api.get("/mypages/\(id)"))
                return listed.status == 404 && page.status == 404
            }
            #expect(try await total("/reserves", api) == 0)
            let told = try await api.get("/notifications?customer=slow")
            #expect(told.items("notifications").isEmpty, "a customer was told about a request that never existed: \(told.text)")
            let reserve = try await system.direct("reserve")
            try await eventually("nothing left to undo") { try await reserve.metric("msa_gated_calls_pending", "state=\"undo\"") == 0 }
        }
    }

    /// More concurrent customers than reserve's bulkhead to a slowed payment admits, some
    /// calls timing out: every answer is 201 or a 503 with `Retry-After`, a refusal leaves
    /// nothing behind, and shortly after the load every payment has its request and every
    /// request its payment, with nothing left to undo.
    @Test func pastTheBulkheadRefusalsLeaveNothingAndEveryPaymentEndsWithItsRequest() async throws {
        let slowPayment = ["PAYMENT_DELAY_MS": "150-450", "PAYMENT_TIMEOUT_MS": "400", "PAYMENT_MAX_CONCURRENT": "2",
                           "PAYMENT_QUEUE_WAIT_MS": "50", "PAYMENT_BREAKER_FAILURES": "1000"]
        try await RunningSystem.with("rental", environment: slowPayment) { system in
            let api = system.gateway
            let answers = try await concurrently(8) { _ in
                try await (0..<8).asyncMap { _ in try await api.post("/reserves", RentalSeed.request(customer: "crowd")) }
            }.flatMap { $0 }
            let created = answers.filter { $0.status == 201 }.compactMap { $0.body?["id"]?.int64Value }
            let refused = answers.filter { $0.status == 503 }
            #expect(created.count + refused.count == answers.count, "\(answers.filter { ![201, 503].contains($0.status) }.map(\.text))")
            #expect(!created.isEmpty && !refused.isEmpty, "\(created.count) created, \(refused.count) refused: the load did not pass the bulkhead")
            #expect(refused.allSatisfy { $0.headers["retry-after"] != nil })

            let reserve = try await system.direct("reserve")
            try await eventually("every payment with its request, nothing left to undo", timeout: .seconds(15)) {
                let approved = try await api.get("/payments?size=2000").items("payments")
                    .filter { $0["paymentAction"] == "Approved" }.compactMap { $0["matchId"]?.int64Value }
                let requests = try await api.get("/reserves?size=2000").items("reserves").compactMap { $0["id"]?.int64Value }
                let pending = try await reserve.metric("msa_gated_calls_pending")
                return Set(approved) == Set(requests) && pending == 0
            }
            #expect(Set(try await api.get("/reserves?size=2000").items("reserves").compactMap { $0["id"]?.int64Value }) == Set(created))
        }
    }

    /// A service whose port another process holds (here the test listens on it; in a CI
    /// run an outgoing connection held it as its local port, and lend failed to bind for a
    /// minute) fails to start; the supervisor says whose fault it is, keeps restarting it,
    /// and it is ready once the port is free.
    @Test func aServiceWhosePortIsTakenIsReportedAndStartsOnceItIsFree() async throws {
        try await RunningSystem.with("rental") { system in
            guard let port = try await system.processes()["promotion"]?.port else { throw SystemFailure("no promotion") }
            #expect(try await system.msa(["stop", "rental", "promotion"]).status == 0)
            let squatter = try HeldPort(port)
            async let started = system.msa(["start", "rental", "promotion"])
            try await eventually("the taken port reported") { system.logText().contains("port \(port) is taken by another process") }
            squatter.close()
            let start = try await started
            #expect(start.status == 0, "\(start.output)")
            let health = try await system.direct("promotion").get("/actuator/health/readiness")
            #expect(health.status == 200)
        }
    }

    /// A consumer SIGKILLed and restarted by the supervisor handles new events within a
    /// moment of being ready: its next incarnation takes its partitions at once
    /// (`MSA_MEMBER`), instead of waiting out the dead one's lease (with the 6 s lease of
    /// the time, requests reached lend's list 5–6 s after it was healthy again).
    @Test func aRestartedConsumerResumesAtOnceAfterItIsReady() async throws {
        try await RunningSystem.with("rental") { system in
            let api = system.gateway
            let before = try await request(1, customer: "warm-up", via: api)
            try await eventually("lend listing the first request") { try await listed(in: api).contains(before[0]) }
            let killed = try await system.processes()["lend"]?.pid
            try await system.crash("lend")
            try await eventually("lend restarted") { try await system.processes()["lend"]?.pid.map { $0 != killed } ?? false }
            let lend = try await system.direct("lend")
            try await eventually("lend ready again") { (try? await lend.get("/actuator/health/readiness").status) == 200 }
            let ready = ContinuousClock.now
            let after = try await request(1, customer: "after-restart", via: api)
            try await eventually("the new request in lend's list soon after lend is ready", timeout: .seconds(3)) {
                try await listed(in: api).contains(after[0])
            }
            print("a request paid after lend was ready again was in its list \(ready.duration(to: .now)) after ready")
        }
    }

    /// Reserve, lend, mypage and notification are SIGKILLed the moment the last request
    /// commits: the supervisor restarts them and every event arrives, exactly once.
    @Test func servicesKilledRightAfterCommitsLoseAndDoubleNothing() async throws {
        try await RunningSystem.with("rental") { system in
            let api = system.gateway
            let ids = try await request(30, customer: "crash", via: api, lanes: 6)
            for name in ["reserve", "lend", "mypage", "notification"] { try await system.crash(name) }

            try await expectEveryViewCompleteOnce(ids, customer: "crash", via: api, after: "the restarts", within: .seconds(60))
            let restarts = try await system.msa(["ps", "rental"]).output
            #expect(restarts.split(separator: "\n").filter { $0.hasSuffix(" 1") }.count == 4, "\(restarts)")
        }
    }

    /// Two lend replicas split the partitions; each event is handled once and in per-key
    /// order (approve before cancel); a replica killed with SIGKILL has its partitions
    /// taken over by the other once its leases expire.
    @Test func twoLendReplicasShareTheEventsAndOneTakesOverWhenTheOtherDies() async throws {
        try await RunningSystem.with("rental", arguments: ["--replicas", "lend=2"]) { system in
            let api = system.gateway
            let (lend1, lend2) = (try await system.direct("lend"), try await system.direct("lend#2"))
            try await eventually("partitions spread over both replicas") {
                let (first, second) = (try await owned(lend1), try await owned(lend2))
                return first == 4 && second == 4
            }

            let cancelled = try await requestAndCancel(12, customer: "replicas", via: api)
            let confirmed = try await request(6, customer: "replicas", via: api)
            try await confirmAll(confirmed, via: api)
            try await eventually("phase 1 handled") { try await handled(lend1) + (try await handled(lend2)) == 2 * 12 + 6 }
            try await expectCancelled(cancelled, via: api)
            let (handled1, handled2) = (try await handled(lend1), try await handled(lend2))
            #expect(handled1 > 0 && handled2 > 0, "one replica did all the work: \(handled1) and \(handled2)")
            let doubled = try await duplicates(lend1) + (try await duplicates(lend2))
            #expect(doubled == 0)
            let (posts1, posts2) = (try await confirmations(lend1), try await confirmations(lend2))
            #expect(posts1 > 0 && posts2 > 0, "the gateway did not spread POST /lends over both replicas: \(posts1) and \(posts2)")

            #expect(try await system.msa(["stop", "rental", "lend#2", "--kill"]).status == 0)
            // The dead replica's leases lapse (1.2 s) and the survivor's next renewal (every
            // 0.4 s) takes them: 1.6 s at most; 3 s leaves room for a busy machine.
            let killed = ContinuousClock.now
            try await eventually("the survivor owning every partition within 3 s of the kill", timeout: .seconds(3)) {
                try await owned(lend1) == 8
            }
            print("lend#1 took over lend#2's partitions \(killed.duration(to: .now)) after the SIGKILL")
            let before = try await handled(lend1)
            let lateCancelled = try await requestAndCancel(12, customer: "replicas", via: api)
            let lateConfirmed = try await request(6, customer: "replicas", via: api)
            try await eventually("phase 2 handled by the survivor") { try await handled(lend1) - before == 2 * 12 + 6 }
            try await confirmAll(lateConfirmed, via: api)
            try await expectCancelled(lateCancelled, via: api)
            #expect(try await duplicates(lend1) == 0)
        }
    }
}

// MARK: - Steps


/// Makes `count` paid requests through `api` over `lanes` concurrent clients; returns their ids.
func request(_ count: Int, customer: String, via api: Web, lanes: Int = 1) async throws -> [Int64] {
    try await concurrently(lanes) { lane in
        var ids: [Int64] = []
        for _ in stride(from: lane, to: count, by: lanes) {
            let answer = try await api.post("/reserves", RentalSeed.request(customer: customer))
            guard answer.status == 201, let id = answer.body?["id"]?.int64Value else {
                throw SystemFailure("POST /reserves: \(answer.status) \(answer.text)")
            }
            ids.append(id)
        }
        return ids
    }.flatMap { $0 }
}

/// Waits until every view shows each of `ids` (paid requests of `customer`), then checks
/// that none shows one twice: mypage history Requested and Paid, one notification each,
/// each listed once in lend's list.
func expectEveryViewCompleteOnce(_ ids: [Int64], customer: String, via api: Web, after what: String, within timeout: Duration,
                                 sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let mypages = "/mypages/search/findByCustomer?customer=\(customer)&size=\(ids.count * 2)"
    let notifications = "/notifications?customer=\(customer)&size=\(ids.count * 3)"
    var missing = "nothing read yet"
    try await eventually("every view complete after \(what) (still missing: \(missing))", timeout: timeout) {
        let rows = try await api.get(mypages).items("mypages")
        let notes = try await api.get(notifications).items("notifications")
        let list = try await listed(in: api)
        let paged = Set(rows.filter { $0["history"]?.arrayCount == 2 }.compactMap { $0["matchId"]?.int64Value })
        let told = Set(notes.compactMap { $0["matchId"]?.int64Value })
        let wanted = Set(ids)
        missing = "mypage \(wanted.subtracting(paged).sorted()), notifications \(wanted.subtracting(told).sorted()), "
            + "lend's list \(wanted.subtracting(list).sorted())"
        return paged.isSuperset(of: wanted) && rows.filter { $0["history"]?.arrayCount == 2 }.count == ids.count
            && told == wanted && Set(list).isSuperset(of: ids)
    }
    let rows = try await api.get(mypages).items("mypages")
    #expect(rows.count == ids.count, sourceLocation: sourceLocation)
    for row in rows {
        #expect(row["history"] == ["Requested", "Paid"] || row["history"] == ["Paid", "Requested"], "\(row)", sourceLocation: sourceLocation)
    }
    let notes = try await api.get(notifications).items("notifications")
    #expect(notes.count == ids.count, "notifications doubled or lost: \(notes.count) for \(ids.count) requests",
            sourceLocation: sourceLocation)
    let list = try await listed(in: api)
    #expect(list.count == Set(list).count, "a request listed twice: \(list)", sourceLocation: sourceLocation)
}

extension Sequence where Element: Sendable {
    /// `map` with an async transform, one element after another.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

extension JSONValue {
    var arrayCount: Int? { if case .array(let items) = self { items.count } else { nil } }
}

/// Requests and at once cancels `count` rentals: payment publishes approve then cancel
/// for each, the order lend must keep.
func requestAndCancel(_ count: Int, customer: String, via api: Web) async throws -> [Int64] {
    var ids: [Int64] = []
    for id in try await request(count, customer: customer, via: api) {
        let answer = try await api.patch("/reserves/\(id)", ["status": "Cancel"])
        guard answer.status == 200 else { throw SystemFailure("PATCH /reserves/\(id): \(answer.status) \(answer.text)") }
        ids.append(id)
    }
    return ids
}

/// Confirms every request once all are listed (the POSTs back to back, so the gateway's
/// round robin sends them to every replica in turn).
func confirmAll(_ ids: [Int64], via api: Web) async throws {
    for id in ids {
        try await eventually("request \(id) listed") { try await api.get("/requestLists/\(id)").status == 200 }
    }
    for id in ids {
        let answer = try await api.post("/lends", ["matchId": .string(String(id)), "lender": "Safemate"])
        #expect(answer.status == 201, "POST /lends \(id): \(answer.text)")
    }
}

func expectCancelled(_ ids: [Int64], via api: Web) async throws {
    for id in ids {
        let item = try await api.get("/requestLists/\(id)")
        #expect(item.body?["status"] == "Cancelled", "request \(id) out of order: \(item.text)")
    }
}

/// The match ids in lend's request list.
func listed(in api: Web) async throws -> [Int64] {
    try await api.get("/requestLists?size=1000").items("requestLists").compactMap { $0["matchId"]?.int64Value }
}

func total(_ path: String, _ api: Web) async throws -> Int64 {
    let answer = try await api.get(path)
    guard let total = answer.body?["page"]?["totalElements"]?.int64Value else { throw SystemFailure("\(path): \(answer.text)") }
    return total
}

func owned(_ replica: Web, group: String = "lend") async throws -> Double {
    try await replica.metric("msa_consumer_partitions_owned", #"group="\#(group)""#)
}
func handled(_ replica: Web, group: String = "lend") async throws -> Double {
    try await replica.metric("msa_events_handled_total", #"group="\#(group)""#)
}
func confirmations(_ replica: Web) async throws -> Double {
    try await replica.metric("hb_requests", #"http_request_method="POST""#, #"http_route="/lends""#)
}
func duplicates(_ replica: Web, group: String = "lend") async throws -> Double {
    try await replica.metric("msa_events_duplicates_total", #"group="\#(group)""#)
}
