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
///
/// Each transition is reported as `msa_circuit_breaker_state{target}` (0 closed,
/// 1 half-open, 2 open) and logged with what caused it (the failure that opened it, the
/// probe that failed, how long it was open), so an operator can tell a callee that is
/// down from one that is slow. Time comes from `now`, so tests can move it by hand.
public actor CircuitBreaker {
    public enum State: Sendable, Equatable {
        case closed, open, halfOpen
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
    /// When the breaker last opened, or last turned half-open.
    private var since: ContinuousClock.Instant
    private var probesInFlight = 0
    private let logger: Logger?

    public init(
        target: String,
        policy: CallPolicy = .init(),
        logger: Logger? = nil,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.target = target
        self.logger = logger
        self.failureThreshold = max(policy.failureThreshold, 1)
        self.failureWindow = max(policy.failureWindow, self.failureThreshold)
        self.openDuration = policy.openDuration
        self.maxOpenDuration = max(policy.maxOpenDuration, policy.openDuration)
        self.openPeriod = policy.openDuration
        self.halfOpenProbes = max(policy.halfOpenProbes, 1)
        self.now = now
        self.since = now()
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
            move(to: .halfOpen)
            probesInFlight = 1
            logger?.info("circuit half-open", metadata: ["target": "\(target)", "open_for": "\(elapsed)"])
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
    }
}
