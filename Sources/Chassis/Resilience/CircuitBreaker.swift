import Logging

/// Stops calling a target that keeps failing, so a dead neighbour costs its callers one
/// quick refusal instead of a timeout per request, and gets room to recover.
///
/// ```swift
/// let breaker = CircuitBreaker(target: "payment", policy: CallPolicy())
/// try await breaker.acquire()            // throws CircuitBreaker.Rejected while open
/// let ok = await call()
/// await breaker.record(success: ok)
/// ```
///
/// Guarantees:
/// - **closed**: every call is admitted; the breaker opens when `failureThreshold` of the
///   last `failureWindow` calls failed (10 of 20 by default: a failure rate, as
///   resilience4j and Hystrix count it, so the slow tail of a healthy target — the seed's
///   payment answers past the timeout one time in twenty — never opens it, while a target
///   that is down opens it within a handful of calls). Only the target's own failures count
///   (timeouts, 5xx, connection errors): a call this service refused locally (bulkhead
///   full, breaker open) was never a call and is never recorded.
/// - **open**: every call is rejected until the open period has passed; the first
///   `acquire()` after that moves to half-open. The period starts at `openDuration` and
///   doubles each time the breaker opens again from half-open, up to `maxOpenDuration`;
///   closing resets it. A target that was only briefly away (a restart) is used again
///   within about `openDuration`, while one that keeps failing is probed ever more rarely.
/// - **half-open**: at most `halfOpenProbes` calls are in flight; `halfOpenProbes`
///   recorded successes close the breaker, the first recorded failure opens it again. A
///   probe that reports nothing within the open period (its caller was cancelled) is
///   written off and another probe is admitted, so a breaker never stays half-open for
///   good; an admitted call that was never sent gives its place back (``release()``).
/// - Results recorded while open are ignored: they come from calls admitted before it
///   opened and say nothing about the target's recovery.
/// - **readiness**: given a way to ask the target whether it is ready (its
///   `/actuator/health/readiness`, see ``ServiceClient``), an open breaker asks every
///   `readinessInterval` and turns half-open as soon as the answer is yes, whatever is
///   left of its open period: a target that was away for ten seconds is used again within
///   a fraction of a second of its return, not at the next probe of a period that grew to
///   eight seconds while it was away. A "no" or no answer changes nothing (the open period
///   still lets its probes through when it ends, so a readiness check that is wrong can
///   only delay recovery to what it would have been without it); a target with no such
///   endpoint (404) is not asked again until the breaker opens next time.
///
/// Each transition is reported as `msa_circuit_breaker_state{target}` (0 closed,
/// 1 half-open, 2 open) and logged with what caused it (the failure that opened it, the
/// probe that failed, how long it was open), so an operator can tell a callee that is
/// down from one that is slow. Time comes from `now`, so tests can move it by hand.
public actor CircuitBreaker {
    public enum State: Sendable, Equatable {
        case closed, open, halfOpen
    }

    /// What a target says when asked whether it is ready.
    public enum Readiness: Sendable, Equatable {
        case ready, notReady
        /// The target has no readiness endpoint: only the open period counts.
        case unknown
    }

    /// Thrown by ``acquire()`` when the breaker admits no call now.
    public struct Rejected: Error, Sendable, CustomStringConvertible {
        public let target: String
        public let state: State
        /// How long until an open breaker admits a probe; zero when half-open with all
        /// probes in flight.
        public let reopensIn: Duration

        public var description: String {
            "circuit to \(target) is \(state == .open ? "open" : "half-open with its probes in flight"), next probe in \(reopensIn)"
        }
    }

    public nonisolated let target: String
    /// The state as of the last call; an open breaker turns half-open at the first
    /// ``acquire()`` after `openDuration`, not by itself.
    public private(set) var state: State = .closed

    private let failureThreshold: Int
    private let openDuration: Duration
    private let maxOpenDuration: Duration
    private let halfOpenProbes: Int
    /// How long the breaker stays open this time: grows while probes keep failing.
    public private(set) var openPeriod: Duration
    private var probeSuccesses = 0
    private let now: @Sendable () -> ContinuousClock.Instant
    private let failureWindow: Int
    /// The outcomes of the last `failureWindow` calls while closed, oldest first.
    private var recent: [Bool] = []
    private var failuresInWindow = 0
    /// When the breaker last opened, or last turned half-open; moved back when the
    /// target's readiness ends an open period early.
    private var since: ContinuousClock.Instant
    /// When the breaker last opened, for the log.
    private var openedAt: ContinuousClock.Instant
    private var probesInFlight = 0
    private let logger: Logger?
    private let readiness: (@Sendable () async -> Readiness)?
    private let readinessInterval: Duration
    /// Whether a task is asking the target for its readiness now.
    private var watching = false

    public init(
        target: String,
        policy: CallPolicy = .init(),
        logger: Logger? = nil,
        readiness: (@Sendable () async -> Readiness)? = nil,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.target = target
        self.logger = logger
        self.readiness = readiness
        self.readinessInterval = policy.readinessInterval
        self.failureThreshold = max(policy.failureThreshold, 1)
        self.failureWindow = max(policy.failureWindow, self.failureThreshold)
        self.openDuration = policy.openDuration
        self.maxOpenDuration = max(policy.maxOpenDuration, policy.openDuration)
        self.openPeriod = policy.openDuration
        self.halfOpenProbes = max(policy.halfOpenProbes, 1)
        self.now = now
        self.since = now()
        self.openedAt = since
        ChassisMetrics.shared.breaker(target: target, state: 0)
    }

    /// Admits one call or throws ``Rejected``. An admitted call must be followed by
    /// ``record(success:)``.
    public func acquire() throws {
        switch state {
        case .closed:
            return
        case .open:
            let elapsed = now() - since
            guard elapsed >= openPeriod else {
                throw Rejected(target: target, state: .open, reopensIn: openPeriod - elapsed)
            }
            let openFor = now() - openedAt
            move(to: .halfOpen)
            probesInFlight = 1
            logger?.info("circuit half-open", metadata: ["target": "\(target)", "open_for": "\(openFor)"])
        case .halfOpen:
            if probesInFlight >= halfOpenProbes, now() - since >= openPeriod {
                // The probes never reported back; write them off rather than stay stuck.
                since = now()
                probesInFlight = 0
            }
            guard probesInFlight < halfOpenProbes else {
                throw Rejected(target: target, state: .halfOpen, reopensIn: .zero)
            }
            probesInFlight += 1
        }
    }

    /// Records the outcome of an admitted call: `false` for a connection error, a timeout
    /// or a 5xx; `true` for any answer, 4xx included. `failure` says what went wrong, for
    /// the log line of the transition it causes.
    public func record(success: Bool, failure: @autoclosure () -> String = "") {
        switch (state, success) {
        case (.closed, _):
            recent.append(success)
            if !success { failuresInWindow += 1 }
            if recent.count > failureWindow, !recent.removeFirst() { failuresInWindow -= 1 }
            if failuresInWindow >= failureThreshold {
                let failures = failuresInWindow, calls = recent.count
                move(to: .open)
                logger?.warning("circuit opened", metadata: [
                    "target": "\(target)", "failed": "\(failures) of the last \(calls) calls", "last": "\(failure())",
                    "probe_in": "\(openPeriod)",
                ])
            }
        case (.halfOpen, true):
            probeSuccesses += 1
            probesInFlight = max(probesInFlight - 1, 0)
            if probeSuccesses >= halfOpenProbes {
                openPeriod = openDuration
                let probing = now() - since
                move(to: .closed)
                logger?.info("circuit closed", metadata: ["target": "\(target)", "probes": "\(halfOpenProbes) succeeded in \(probing)"])
            }
        case (.halfOpen, false):
            openPeriod = min(openPeriod * 2, maxOpenDuration)
            move(to: .open)
            logger?.warning("circuit opened again", metadata: [
                "target": "\(target)", "probe": "\(failure())", "probe_in": "\(openPeriod)",
            ])
        case (.open, _):
            break
        }
    }

    /// How long a caller turned away now should wait before trying again: until an open
    /// breaker admits probes, else one open period.
    public var retryAfter: Duration {
        state == .open ? max(openPeriod - (now() - since), .zero) : openPeriod
    }

    /// Gives back an admission that never became a call (the caller stopped before
    /// sending), so a half-open breaker does not wait for a probe that will never report.
    public func release() {
        if state == .halfOpen { probesInFlight = max(probesInFlight - 1, 0) }
    }

    private func move(to next: State) {
        state = next
        since = now()
        recent.removeAll(keepingCapacity: true)
        failuresInWindow = 0
        probesInFlight = 0
        probeSuccesses = 0
        ChassisMetrics.shared.breaker(target: target, state: next == .closed ? 0 : next == .halfOpen ? 1 : 2)
        if next == .open {
            openedAt = since
            watchReadiness()
        }
    }

    /// Starts asking the target whether it is ready, unless a task already does. The task
    /// lives while the breaker is open, and no longer.
    private func watchReadiness() {
        guard let readiness, !watching else { return }
        watching = true
        Task { await self.watch(readiness) }
    }

    private func watch(_ readiness: @Sendable () async -> Readiness) async {
        defer { watching = false }
        while state == .open {
            guard (try? await LoopTimer.sleep(for: readinessInterval)) != nil, state == .open else { return }
            switch await readiness() {
            case .ready:
                guard state == .open else { return }
                let elapsed = now() - since
                if elapsed < openPeriod {
                    since = now() - openPeriod  // the next acquire() turns half-open
                    logger?.info("circuit ends its open period early: the target is ready", metadata: [
                        "target": "\(target)", "open_for": "\(elapsed)",
                    ])
                }
                return
            case .notReady:
                continue
            case .unknown:
                return
            }
        }
    }
}
