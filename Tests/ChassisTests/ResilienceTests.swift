import Chassis
import ChassisTesting
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Guarantee 7: timeouts, circuit breaker, bulkhead, retries of idempotent calls, fallback.
@Suite enum ResilienceTests {}

// MARK: - Circuit breaker

extension ResilienceTests {
    @Suite struct Breaker {
        private let clock = ManualClock()
        let policy = CallPolicy(failureThreshold: 3, failureWindow: 4, openDuration: .seconds(5), maxOpenDuration: .seconds(20), halfOpenProbes: 2)

        func breaker() -> CircuitBreaker {
            let clock = clock
            return CircuitBreaker(target: "payment", policy: policy, now: { clock.now })
        }

        func openBreaker() async -> CircuitBreaker {
            let breaker = breaker()
            for _ in 0..<policy.failureThreshold { await breaker.record(success: false) }
            return breaker
        }

        @Test func opensAfterThresholdConsecutiveFailures() async throws {
            let breaker = breaker()
            await breaker.record(success: false)
            await breaker.record(success: false)
            #expect(await breaker.state == .closed)
            await breaker.record(success: false)
            #expect(await breaker.state == .open)
        }

        @Test func opensOnTheThresholdOfFailuresWithinTheWindow() async throws {
            let breaker = breaker()
            for success in [false, false, true] { await breaker.record(success: success) }
            #expect(await breaker.state == .closed)
            await breaker.record(success: false)
            #expect(await breaker.state == .open, "3 of the last 4 failed")
        }

        @Test func failuresThatLeftTheWindowNoLongerCount() async throws {
            let breaker = breaker()
            for success in [false, false, true, true, true, false, false] { await breaker.record(success: success) }
            #expect(await breaker.state == .closed, "2 of the last 4 failed")
            try await breaker.acquire()
        }

        @Test func rejectsWhileOpen() async throws {
            let breaker = await openBreaker()
            clock.advance(by: .seconds(5) - .milliseconds(1))
            let rejected = await #expect(throws: CircuitBreaker.Rejected.self) { try await breaker.acquire() }
            #expect(rejected?.reopensIn == .milliseconds(1))
        }

        @Test func halfOpensAfterOpenDurationAndAdmitsItsProbes() async throws {
            let breaker = await openBreaker()
            clock.advance(by: .seconds(5))
            try await breaker.acquire()
            #expect(await breaker.state == .halfOpen)
            try await breaker.acquire()
            await #expect(throws: CircuitBreaker.Rejected.self) { try await breaker.acquire() }
        }

        @Test func closesOnceEveryProbeSucceeded() async throws {
            let breaker = await openBreaker()
            clock.advance(by: .seconds(5))
            try await breaker.acquire()
            await breaker.record(success: true)
            #expect(await breaker.state == .halfOpen, "one probe of two")
            try await breaker.acquire()
            await breaker.record(success: true)
            #expect(await breaker.state == .closed)
            try await breaker.acquire()
            try await breaker.acquire()
            try await breaker.acquire()
        }

        @Test func reopensForADoubledPeriodAfterAFailedProbeUpToTheLongest() async throws {
            let breaker = await openBreaker()
            clock.advance(by: .seconds(5))
            try await breaker.acquire()
            await breaker.record(success: false)
            #expect(await breaker.state == .open)
            #expect(await breaker.openPeriod == .seconds(10))
            clock.advance(by: .seconds(9))
            await #expect(throws: CircuitBreaker.Rejected.self) { try await breaker.acquire() }
            #expect(await breaker.retryAfter == .seconds(1))
            clock.advance(by: .seconds(1))
            try await breaker.acquire()
            await breaker.record(success: false)
            #expect(await breaker.openPeriod == .seconds(20), "doubled again, and capped at maxOpenDuration")
            clock.advance(by: .seconds(20))
            try await breaker.acquire()
            await breaker.record(success: false)
            #expect(await breaker.openPeriod == .seconds(20))
        }

        @Test func closingStartsTheOpenPeriodShortAgain() async throws {
            let breaker = await openBreaker()
            clock.advance(by: .seconds(5))
            try await breaker.acquire()
            await breaker.record(success: false)
            clock.advance(by: .seconds(10))
            for _ in 0..<2 {
                try await breaker.acquire()
                await breaker.record(success: true)
            }
            #expect(await breaker.state == .closed)
            for _ in 0..<policy.failureThreshold { await breaker.record(success: false) }
            #expect(await breaker.openPeriod == .seconds(5))
        }

        @Test func aProbeNeverSentGivesItsPlaceBack() async throws {
            let breaker = await openBreaker()
            clock.advance(by: .seconds(5))
            try await breaker.acquire()
            try await breaker.acquire()
            await breaker.release()
            try await breaker.acquire()
            await #expect(throws: CircuitBreaker.Rejected.self) { try await breaker.acquire() }
        }

        @Test func aProbeThatNeverReportsIsWrittenOffAfterOpenDuration() async throws {
            let breaker = await openBreaker()
            clock.advance(by: .seconds(5))
            try await breaker.acquire()
            try await breaker.acquire()
            clock.advance(by: .seconds(5))
            try await breaker.acquire()
            #expect(await breaker.state == .halfOpen)
        }
    }
}

// MARK: - Bulkhead

extension ResilienceTests {
    @Suite struct Bulkheads {
        @Test func rejectsBeyondItsLimitWithoutQueueing() {
            let bulkhead = Bulkhead(limit: 2)
            #expect(bulkhead.tryEnter())
            #expect(bulkhead.tryEnter())
            #expect(!bulkhead.tryEnter())
            #expect(bulkhead.current == 2)
        }

        @Test func admitsAgainAfterLeave() {
            let bulkhead = Bulkhead(limit: 1)
            #expect(bulkhead.tryEnter())
            bulkhead.leave()
            #expect(bulkhead.tryEnter())
        }

        @Test func aWaiterGetsTheNextFreedSlotInArrivalOrder() async throws {
            let bulkhead = Bulkhead(limit: 1, queueLimit: 2)
            #expect(bulkhead.tryEnter())
            async let first = bulkhead.enter(waitingAtMost: .seconds(30))
            try await eventually("the first waiter in line") { bulkhead.waiting == 1 }
            async let second = bulkhead.enter(waitingAtMost: .seconds(30))
            try await eventually("both waiters in line") { bulkhead.waiting == 2 }

            bulkhead.leave()
            #expect(await first == .admitted, "handed the freed slot")
            #expect(bulkhead.current == 1 && bulkhead.waiting == 1)
            bulkhead.leave()
            #expect(await second == .admitted)
        }

        @Test func aWaiterIsRefusedWhenItsWaitEnds() async throws {
            let bulkhead = Bulkhead(limit: 1, queueLimit: 4)
            #expect(bulkhead.tryEnter())
            let started = ContinuousClock.now
            #expect(await bulkhead.enter(waitingAtMost: .milliseconds(50)) == .waitedInVain)
            #expect(ContinuousClock.now - started >= .milliseconds(50))
            #expect(bulkhead.waiting == 0 && bulkhead.current == 1)
        }

        @Test func aFullLineRefusesAtOnce() async throws {
            let bulkhead = Bulkhead(limit: 1, queueLimit: 1)
            #expect(bulkhead.tryEnter())
            async let waiter = bulkhead.enter(waitingAtMost: .seconds(30))
            try await eventually("one waiter in line") { bulkhead.waiting == 1 }

            let started = ContinuousClock.now
            #expect(await bulkhead.enter(waitingAtMost: .seconds(30)) == .full)
            #expect(ContinuousClock.now - started < .seconds(5), "refused without waiting")
            bulkhead.leave()
            #expect(await waiter == .admitted)
        }

        @Test func aCancelledWaiterLeavesTheLine() async throws {
            let bulkhead = Bulkhead(limit: 1, queueLimit: 1)
            #expect(bulkhead.tryEnter())
            let waiter = Task { await bulkhead.enter(waitingAtMost: .seconds(30)) }
            try await eventually("the waiter in line") { bulkhead.waiting == 1 }
            waiter.cancel()
            #expect(await waiter.value == .waitedInVain)
            #expect(bulkhead.waiting == 0)
            bulkhead.leave()
            #expect(bulkhead.current == 0, "the slot went back to the pool, not to the cancelled waiter")
        }
    }
}

// MARK: - Fallback

extension ResilienceTests {
    @Suite struct Fallback {
        @Test func runsTheFallbackWhenTheTargetIsUnavailable() async throws {
            let value = try await withFallback {
                throw Refusal.unavailable("payment is unavailable: circuit open", retryAfterSeconds: 1)
            } fallback: { refusal in
                "fallback after \(refusal.message)"
            }
            #expect(value == "fallback after payment is unavailable: circuit open")
        }

        @Test func rethrowsEveryOtherRefusal() async throws {
            await #expect(throws: Refusal.conflict("already cancelled")) {
                try await withFallback {
                    throw Refusal.conflict("already cancelled")
                } fallback: { _ in
                    "fallback"
                }
            }
        }
    }
}

// MARK: - Service client against a live server

extension ResilienceTests {
    @Suite struct Client {
        struct Greeting: Codable, Equatable { let message: String }

        @Test func aSuccessfulAnswerDecodes() async throws {
            try await withTarget { target in
                let response = try await target.client().get("/ok")
                #expect(response.status == 200)
                #expect(try response.decode(Greeting.self) == Greeting(message: "hello"))
            }
        }

        @Test func aClientErrorIsReturnedNotThrown() async throws {
            try await withTarget { target in
                let client = target.client()
                let response = try await client.get("/missing")
                #expect(response.status == 404)
                #expect(await client.breaker.state == .closed)
            }
        }

        @Test func aServerErrorMakesTheTargetUnavailable() async throws {
            try await withTarget { target in
                await #expect(throws: Refusal.unavailable("target is unavailable: answered 500", retryAfterSeconds: 1)) {
                    try await target.client(CallPolicy(retries: 0)).get("/broken")
                }
            }
        }

        @Test func aSlowAnswerTimesOut() async throws {
            try await withTarget { target in
                let started = ContinuousClock.now
                await #expect(throws: Refusal.unavailable("target is unavailable: timed out after 200 ms", retryAfterSeconds: 1)) {
                    try await target.client(CallPolicy(timeout: .milliseconds(200), retries: 0)).get("/slow")
                }
                #expect(ContinuousClock.now - started < .seconds(4), "gave up long before the server's 5 s answer")
            }
        }

        @Test func aRefusedConnectionIsNotReachable() async throws {
            let port = try await unusedPort()
            let client = ServiceClient(name: "target", baseURL: "http://127.0.0.1:\(port)", policy: CallPolicy(timeout: .milliseconds(300), retries: 0))
            await #expect(throws: Refusal.unavailable("target is unavailable: not reachable", retryAfterSeconds: 1)) {
                try await client.get("/ok")
            }
        }

        /// A refused connection fails the call at once, not at the end of its timeout after
        /// the pool tried again on its own backoff (which, reset only by a connection that
        /// succeeds, kept a target that was back unused for seconds), and the first call
        /// after the target is back connects.
        @Test func aRefusedConnectionFailsAtOnceAndATargetBackOnItsPortIsUsedAtOnce() async throws {
            let port = try await closedPort()
            let client = ServiceClient(name: "target", baseURL: "http://127.0.0.1:\(port)",
                                       policy: CallPolicy(timeout: .seconds(10), failureThreshold: 1000, failureWindow: 1000, retries: 0))
            let started = ContinuousClock.now
            for _ in 0..<20 {
                await #expect(throws: Refusal.unavailable("target is unavailable: not reachable", retryAfterSeconds: 1)) {
                    try await client.get("/ok")
                }
            }
            #expect(ContinuousClock.now - started < .seconds(5), "20 refused connections, none waiting for its 10 s timeout")
            let router = Router()
            router.get("/ok") { _, _ in try JSONResponse.make(.ok, encoding: ["message": "hello"]) }
            try await withLiveServer(router, port: port) { _ in
                let answer = try await eventually("the first call after the target is back", timeout: .seconds(5)) { try? await client.get("/ok") }
                #expect(answer.status == 200)
            }
        }

        @Test func idempotentCallsAreRetriedOnFailure() async throws {
            try await withTarget { target in
                _ = try? await target.client(CallPolicy(retries: 1)).get("/broken")
                #expect(target.hits == 2)
            }
        }

        @Test func nonIdempotentCallsAreAttemptedOnce() async throws {
            try await withTarget { target in
                _ = try? await target.client(CallPolicy(retries: 1)).post("/broken", Greeting(message: "hi"), idempotent: false)
                #expect(target.hits == 1)
            }
        }

        @Test func aRetryStoppedByTheBreakerReportsTheTargetsFailure() async throws {
            try await withTarget { target in
                await #expect(throws: Refusal.unavailable("target is unavailable: answered 500", retryAfterSeconds: 1)) {
                    // A timeout no busy machine reaches: at 610 ms the first attempt once
                    // timed out instead of answering 500 while the unit suites ran in parallel.
                    try await target.client(CallPolicy(timeout: .seconds(5), failureThreshold: 1, retries: 1)).get("/broken")
                }
                #expect(target.hits == 1)
            }
        }

        @Test func anOpenBreakerRejectsWithoutTouchingTheTarget() async throws {
            try await withTarget { target in
                let client = target.client(CallPolicy(failureThreshold: 3, retries: 0))
                for _ in 0..<3 { _ = try? await client.get("/broken") }
                #expect(target.hits == 3)
                await #expect(throws: Refusal.unavailable("target is unavailable: circuit open", retryAfterSeconds: 1)) {
                    try await client.get("/ok")
                }
                #expect(target.hits == 3)
            }
        }

        @Test func aFullBulkheadRejectsAtOnceAndACancelledCallIsNotAFailure() async throws {
            try await withTarget { target in
                let client = target.client(CallPolicy(timeout: .seconds(30), maxConcurrent: 1, queueWait: .seconds(2), queueLimit: 1))
                let slow = Task { try await client.get("/slow") }
                try await eventually("the slow call in flight") { target.hits == 1 }
                await #expect(throws: Refusal.unavailable("target is unavailable: too many concurrent calls (no slot freed within the wait)",
                                                          retryAfterSeconds: 1)) {
                    try await client.get("/ok")
                }
                let waiting = Task { try await client.get("/ok") }
                try await eventually("a call waiting in the line") { client.bulkhead.waiting == 1 }
                // The line was full: refused without waiting (the refusal of a wait that ran
                // out says "no slot freed within the wait").
                await #expect(throws: Refusal.unavailable("target is unavailable: too many concurrent calls", retryAfterSeconds: 1)) {
                    try await client.get("/ok")
                }
                await #expect(throws: Refusal.self) { try await waiting.value }
                slow.cancel()
                await #expect(throws: CancellationError.self) { try await slow.value }
                #expect(client.bulkhead.current == 0)
                #expect(await client.breaker.state == .closed)
            }
        }

        @Test func theTraceContinuesInTheTarget() async throws {
            try await withTarget { target in
                let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                let response = try await TraceContext.$current.withValue(parent) {
                    try await target.client().get("/traceparent")
                }
                let child = String(decoding: response.body, as: UTF8.self).split(separator: "-")
                #expect(child.count == 4)
                #expect(child[1] == "0af7651916cd43dd8448eb211c80319c")
                #expect(child[2] != "b7ad6b7169203331")
            }
        }
    }
}

// MARK: - Recovery follows the target's readiness

extension ResilienceTests {
    /// An open breaker asks the target's readiness endpoint and lets probes through as
    /// soon as it says yes, long before the open period (a minute here) ends.
    @Suite struct Readiness {
        let policy = CallPolicy(failureThreshold: 1, openDuration: .seconds(60), retries: 0, readinessInterval: .milliseconds(50))

        @Test func aTargetThatSaysItIsReadyIsCalledAgainBeforeTheOpenPeriodEnds() async throws {
            let target = Recovering()
            try await withLiveServer(target.router) { port in
                let client = ServiceClient(name: "target", baseURL: "http://127.0.0.1:\(port)", policy: policy)
                await #expect(throws: Refusal.self) { try await client.get("/work") }
                #expect(await client.breaker.state == .open)
                try await eventually("the open breaker asking for readiness") { target.readinessAsked >= 3 }
                await #expect(throws: Refusal.self) { try await client.get("/work") }
                #expect(target.work == 1, "not ready: no call went through")

                target.up.withLock { $0 = true }
                let answer = try await eventually("a call through again") { try? await client.get("/work") }
                #expect(answer.status == 200)
            }
        }

        @Test func aTargetWithoutReadinessIsLeftToTheOpenPeriod() async throws {
            let target = Recovering(hasReadiness: false)
            try await withLiveServer(target.router) { port in
                let client = ServiceClient(name: "target", baseURL: "http://127.0.0.1:\(port)", policy: policy)
                await #expect(throws: Refusal.self) { try await client.get("/work") }
                target.up.withLock { $0 = true }
                try await eventually("the open breaker asking for readiness") { target.readinessAsked >= 1 }
                let refusal = await #expect(throws: Refusal.self) { try await client.get("/work") }
                #expect(refusal?.message == "target is unavailable: circuit open")
                #expect(target.work == 1)
            }
        }

        @Test func noReadinessPathMeansTheOpenPeriodAloneDecides() async throws {
            let target = Recovering()
            var policy = policy
            policy.readinessPath = nil
            try await withLiveServer(target.router) { port in
                let client = ServiceClient(name: "target", baseURL: "http://127.0.0.1:\(port)", policy: policy)
                await #expect(throws: Refusal.self) { try await client.get("/work") }
                target.up.withLock { $0 = true }
                // The breaker asks nothing: whatever it would learn, it learns from a call.
                await #expect(throws: Refusal.self) { try await client.get("/work") }
                #expect(target.readinessAsked == 0)
            }
        }
    }

    /// A target that is down (500, readiness 503) until the test brings it up.
    final class Recovering: Sendable {
        let up = Mutex(false)
        private let counts = Mutex((work: 0, readiness: 0))
        let hasReadiness: Bool

        init(hasReadiness: Bool = true) { self.hasReadiness = hasReadiness }

        var work: Int { counts.withLock { $0.work } }
        var readinessAsked: Int { counts.withLock { $0.readiness } }

        var router: Router<BasicRequestContext> {
            let router = Router()
            router.get("/work") { _, _ -> Response in
                self.counts.withLock { $0.work += 1 }
                return Response(status: self.up.withLock { $0 } ? .ok : .internalServerError)
            }
            router.get("/actuator/health/readiness") { _, _ -> Response in
                self.counts.withLock { $0.readiness += 1 }
                guard self.hasReadiness else { return Response(status: .notFound) }
                return Response(status: self.up.withLock { $0 } ? .ok : .serviceUnavailable)
            }
            return router
        }
    }
}

// MARK: - Fixtures

/// A clock the test moves by hand, so breaker timing needs no sleeping.
private final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func advance(by duration: Duration) { instant.withLock { $0 = $0.advanced(by: duration) } }
}

/// A live Hummingbird server on a free loopback port, counting the requests it received.
private struct Target: Sendable {
    let port: Int
    private let counter: Counter

    init(port: Int, counter: Counter) {
        self.port = port
        self.counter = counter
    }

    var hits: Int { counter.value }

    func client(_ policy: CallPolicy = .init()) -> ServiceClient {
        ServiceClient(name: "target", baseURL: "http://127.0.0.1:\(port)", policy: policy)
    }

    final class Counter: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func increment() { count.withLock { $0 += 1 } }
    }

    struct Counting<Context: RequestContext>: RouterMiddleware {
        let counter: Counter
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            // An open breaker asks for readiness (404 here): that is not a call.
            if !request.uri.path.hasPrefix("/actuator/") { counter.increment() }
            return try await next(request, context)
        }
    }
}

/// Runs `body` against a server answering `/ok` (200 JSON), `/missing` (404), `/broken`
/// (500), `/slow` (200 after 5 s) and `/traceparent` (echoes the header); stops it after.
private func withTarget(_ body: (Target) async throws -> Void) async throws {
    let counter = Target.Counter()
    let router = Router()
    router.middlewares.add(Target.Counting(counter: counter))
    router.get("/ok") { _, _ in try JSONResponse.make(.ok, encoding: ["message": "hello"]) }
    router.get("/missing") { _, _ in Response(status: .notFound) }
    router.on("/broken", method: .get) { _, _ in Response(status: .internalServerError) }
    router.on("/broken", method: .post) { _, _ in Response(status: .internalServerError) }
    router.get("/slow") { _, _ -> Response in
        try await Task.sleep(for: .seconds(5))
        return Response(status: .ok)
    }
    router.get("/traceparent") { request, _ in request.headers[HTTPField.Name("traceparent")!] ?? "" }

    let (ports, portFound) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "resilience-tests")
    logger.logLevel = .critical  // stopping the server by cancellation logs an error by design
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in portFound.yield(channel.localAddress?.port ?? 0) },
        logger: logger
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.run() }
        defer { group.cancelAll() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        try await body(Target(port: port, counter: counter))
    }
}

/// A loopback port nothing listens on: bound, then closed.
private func unusedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 1
    try await channel.close()
    return port
}
