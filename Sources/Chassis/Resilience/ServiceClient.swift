import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// How a ``ServiceClient`` treats one target: the limits that keep a slow or dead
/// neighbour from taking this service down with it.
public struct CallPolicy: Sendable {
    /// The most one attempt may take, response body included (the seeds' Feign timeout).
    public var timeout: Duration
    /// Failed attempts (connection errors, timeouts, 5xx) among the last `failureWindow`
    /// that open the breaker.
    public var failureThreshold: Int
    public var failureWindow: Int
    /// How long an open breaker first rejects every call before it lets probes through;
    /// doubled each time the probes fail, up to ``maxOpenDuration``.
    public var openDuration: Duration
    public var maxOpenDuration: Duration
    /// Calls admitted while half-open; this many successes close the breaker.
    public var halfOpenProbes: Int
    /// Calls to this target in flight at once.
    public var maxConcurrent: Int
    /// How long a call may wait for a free slot when all ``maxConcurrent`` are taken, and
    /// how many calls may wait at once (0: none, a full bulkhead refuses at once). The
    /// line is four times the bulkhead by default: a waiter costs a parked task and no
    /// CPU, while a refusal costs a round trip that an impatient client repeats at once.
    /// Measured with the seed's slowed payment and 200 clients retrying every 503 at
    /// once: with a line of 64 the refusals took both cores and goodput fell from 115 to
    /// 38 paid requests/s; with 256 it held at 114/s (docs/benchmarks.md).
    public var queueWait: Duration
    public var queueLimit: Int
    /// Extra attempts after a failed one, for idempotent calls only.
    public var retries: Int
    /// Where the target says whether it is ready (every chassis service answers
    /// `/actuator/health/readiness`); an open breaker asks there every
    /// `readinessInterval` and lets probes through as soon as it says yes. Nil: the open
    /// period alone decides.
    public var readinessPath: String?
    public var readinessInterval: Duration

    public init(
        timeout: Duration = .milliseconds(610),
        failureThreshold: Int = 10,
        failureWindow: Int = 20,
        openDuration: Duration = .seconds(1),
        maxOpenDuration: Duration = .seconds(30),
        halfOpenProbes: Int = 3,
        maxConcurrent: Int = 64,
        queueWait: Duration = .milliseconds(250),
        queueLimit: Int? = nil,
        retries: Int = 1,
        readinessPath: String? = "/actuator/health/readiness",
        readinessInterval: Duration = .milliseconds(250)
    ) {
        self.timeout = timeout
        self.failureThreshold = failureThreshold
        self.failureWindow = failureWindow
        self.openDuration = openDuration
        self.maxOpenDuration = maxOpenDuration
        self.halfOpenProbes = halfOpenProbes
        self.maxConcurrent = maxConcurrent
        self.queueWait = queueWait
        self.queueLimit = queueLimit ?? 4 * maxConcurrent
        self.retries = retries
        self.readinessPath = readinessPath
        self.readinessInterval = readinessInterval
    }
}

/// A target's answer below 500: a 2xx, or a 4xx that is the target's verdict on the
/// request and is the caller's to interpret.
public struct ServiceResponse: Sendable {
    public let status: Int
    public let body: Data

    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }

    /// The body decoded with the chassis's lenient JSON rules. A body that does not fit
    /// `T` is a broken contract between two services, not the end user's mistake, so it
    /// throws ``UndecodableBody`` (an internal error), never a 400 ``Refusal``.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do { return try JSON.decode(type, from: body) } catch {
            throw UndecodableBody(status: status, type: "\(T.self)", reason: "\(error)")
        }
    }

    public struct UndecodableBody: Error, Sendable, CustomStringConvertible {
        public let status: Int
        public let type: String
        public let reason: String
        public var description: String { "a \(status) answer could not be decoded as \(type): \(reason)" }
    }
}

/// The only way a service calls another one synchronously (guarantee 7).
///
/// ```swift
/// let payment = ServiceClient(name: "payment", baseURL: "http://localhost:8082")
/// let approved = try await payment.post("/payments", PaymentRequest(...), idempotent: false)
///     .decode(PaymentApproved.self)
/// ```
///
/// Each call passes, in order:
/// 1. the ``Bulkhead`` (`maxConcurrent`): a full one lets the call wait up to `queueWait`
///    in a line of at most `queueLimit`, then refuses it;
/// 2. the ``CircuitBreaker``: an open one rejects at once, without touching the network;
/// 3. the request, bounded by `timeout` per attempt, carrying a child of the current
///    W3C `traceparent` so the trace continues in the target;
/// 4. the verdict: connection errors, timeouts and 5xx are failures of the target and
///    count towards opening the breaker; any other answer, 4xx included, is a success
///    and is returned as a ``ServiceResponse``, never thrown;
/// 5. for `idempotent` calls only, up to `retries` more attempts after a failure, with a
///    short jittered backoff. A non-idempotent call is attempted once, so a timeout never
///    makes the target do the work twice.
///
/// Steps 1 and 2 are local refusals: nothing was sent, they cost no write anywhere and
/// never count against the target. Every way the target can let the caller down
/// surfaces as `Refusal.unavailable("<name> is unavailable: <reason>", retryAfterSeconds:)`,
/// which the HTTP layer answers as 503 with `Retry-After` — the seconds until the breaker
/// tries the target again (at least 1); thrown inside a command's transaction it rolls
/// that transaction back, so nothing half-done stays behind. Each one is counted as
/// `msa_calls_rejected_total{target, reason}`. Cancelling the calling task cancels the
/// request, throws `CancellationError` and does not count against the target.
///
/// A caller that must act before the request leaves (record what may need undoing) takes
/// the admission first with ``admit()`` and sends through the ``Admission``.
public final class ServiceClient: Sendable {
    /// Bodies above this are refused rather than buffered.
    public static let maxBody = 8 << 20

    public let name: String
    public let baseURL: String
    public let policy: CallPolicy
    public let breaker: CircuitBreaker
    public let bulkhead: Bulkhead
    private let httpClient: HTTPClient

    /// The HTTP client service calls share by default. `HTTPClient.shared` keeps at most 8
    /// connections per host, so a ninth concurrent call to the same service would wait
    /// for one (inside its timeout) although the bulkhead admitted it; this one allows as
    /// many connections as the default bulkhead admits calls. Never shut down: it lives as
    /// long as the process, like `HTTPClient.shared`.
    ///
    /// A connection that cannot be made fails the calls waiting for it at once, instead of
    /// the pool trying again after its own backoff (100 ms × 1.25ⁿ up to a minute, reset
    /// only by a connection that succeeds): that backoff is invisible to the breaker, and
    /// after payment had been down for 10 s it kept the next connection attempt about 7 s
    /// away while payment was already back. The breaker decides when a target is tried
    /// again; a refused connection costs a call microseconds instead of its whole timeout.
    public static let pooled: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = CallPolicy().maxConcurrent
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// The system's credential for internal routes (``InternalRoute``), sent with every call.
    let internalToken: String?

    public init(name: String, baseURL: String, policy: CallPolicy = .init(), httpClient: HTTPClient = ServiceClient.pooled,
                logger: Logger? = nil, internalToken: String? = nil) {
        self.name = name
        self.internalToken = internalToken
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.policy = policy
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.breaker = CircuitBreaker(target: name, policy: policy, logger: logger, readiness: policy.readinessPath.map { path in
            Self.readiness(of: base + path, timeout: min(policy.timeout, .seconds(1)), using: httpClient)
        })
        self.bulkhead = Bulkhead(limit: policy.maxConcurrent, queueLimit: policy.queueLimit)
        self.httpClient = httpClient
    }

    /// Sends `body` (already JSON) to `path` under the guarantees above. Pass
    /// `idempotent: true` only when doing the call twice has the effect of doing it once.
    public func send(_ method: HTTPMethod, _ path: String, json body: Data? = nil, idempotent: Bool) async throws -> ServiceResponse {
        let admission = try await admit()
        defer { admission.finish() }
        return try await admission.send(method, path, json: body, idempotent: idempotent)
    }

    /// POSTs `body` as JSON.
    public func post<T: Encodable>(_ path: String, _ body: T, idempotent: Bool) async throws -> ServiceResponse {
        try await send(.POST, path, json: JSON.encode(body), idempotent: idempotent)
    }

    /// GETs `path`; retried on failure, since a GET changes nothing.
    public func get(_ path: String) async throws -> ServiceResponse {
        try await send(.GET, path, idempotent: true)
    }

    /// DELETEs `path`; retried on failure, since deleting twice leaves the same state.
    public func delete(_ path: String) async throws -> ServiceResponse {
        try await send(.DELETE, path, idempotent: true)
    }

    /// Asks `url` whether the target is ready: a 2xx is yes; 404 or 405 is no such
    /// endpoint; anything else, or no answer within `timeout`, is no. Sent beside the
    /// bulkhead and the breaker, which it serves.
    static func readiness(of url: String, timeout: Duration, using httpClient: HTTPClient) -> @Sendable () async -> CircuitBreaker.Readiness {
        {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            do {
                let response = try await httpClient.execute(request, timeout: TimeAmount(timeout))
                _ = try? await response.body.collect(upTo: 64 << 10)
                switch response.status.code {
                case 200..<300: return .ready
                case 404, 405: return .unknown
                default: return .notReady
                }
            } catch {
                return .notReady
            }
        }
    }

    /// Takes a bulkhead slot and the breaker's leave for one call, or throws the local
    /// refusal (503) having sent nothing. The admission must be ended with
    /// ``Admission/finish()``, sent or not.
    public func admit() async throws -> Admission {
        switch await bulkhead.enter(waitingAtMost: policy.queueWait) {
        case .admitted: break
        case .full: throw refusal(.bulkheadFull, retryAfter: .seconds(1))
        case .waitedInVain:
            if Task.isCancelled { throw CancellationError() }
            throw refusal(.noSlotInTime, retryAfter: .seconds(1))
        }
        do {
            try await breaker.acquire()
        } catch let rejected as CircuitBreaker.Rejected {
            bulkhead.leave()
            throw refusal(.circuitOpen, retryAfter: rejected.reopensIn)
        } catch {
            bulkhead.leave()
            throw error
        }
        return Admission(client: self)
    }

    /// One admitted call: a bulkhead slot and a first breaker leave, sent at most once.
    public final class Admission: Sendable {
        let client: ServiceClient
        private struct State {
            var acquired = true
            var finished = false
            var sent = false
            var reached = false
        }
        private let state = Mutex(State())

        init(client: ServiceClient) { self.client = client }

        /// Whether a request may have reached the target: false when every attempt failed
        /// to connect (nothing was sent), or nothing was attempted.
        public var mayHaveReached: Bool { state.withLock { $0.reached } }

        /// Sends the call under the client's guarantees (retries, breaker, timeout).
        public func send(_ method: HTTPMethod, _ path: String, json body: Data? = nil, idempotent: Bool) async throws -> ServiceResponse {
            let first = state.withLock { state in
                precondition(!state.sent && !state.finished, "an admission is sent once, before it is finished")
                state.sent = true
                defer { state.acquired = false }
                return state.acquired
            }
            return try await client.attempts(method, path, body, idempotent: idempotent, admitted: first) { reached in
                if reached { self.state.withLock { $0.reached = true } }
            }
        }

        /// Gives the slot back; an admission never sent gives its breaker leave back too.
        public func finish() {
            let unused = state.withLock { state -> Bool? in
                guard !state.finished else { return nil }
                state.finished = true
                return state.acquired
            }
            guard let unused else { return }
            client.bulkhead.leave()
            if unused { Task { [breaker = client.breaker] in await breaker.release() } }
        }
    }

    /// The attempts of one admitted call: the first uses the admission's breaker leave,
    /// each retry asks the breaker again. `reached` hears, per attempt, whether the request
    /// may have arrived.
    private func attempts(_ method: HTTPMethod, _ path: String, _ body: Data?, idempotent: Bool, admitted: Bool,
                          reached: @Sendable (Bool) -> Void) async throws -> ServiceResponse {
        let attempts = idempotent ? 1 + max(policy.retries, 0) : 1
        var attempt = 1
        var previous: Failure?
        var acquired = admitted
        while true {
            if !acquired {
                do { try await breaker.acquire() } catch let rejected as CircuitBreaker.Rejected {
                    // A retry stopped by the breaker our own failure opened: report that failure.
                    throw refusal(previous ?? .circuitOpen, retryAfter: rejected.reopensIn)
                }
            }
            acquired = false
            let failure: Failure
            do {
                let response = try await exchange(request(method, path, body))
                reached(true)
                if response.status < 500 {
                    await breaker.record(success: true)
                    return response
                }
                failure = .answered(response.status)
            } catch {
                // Our caller gave up; that says nothing about the target.
                if Task.isCancelled {
                    reached(true)
                    await breaker.release()
                    throw CancellationError()
                }
                failure = Failure(error)
                reached(failure.mayHaveReached)
            }
            await breaker.record(success: false, failure: failure.reason(timeout: policy.timeout))
            guard attempt < attempts else { throw refusal(failure, retryAfter: await breaker.retryAfter) }
            try await LoopTimer.sleep(for: Backoff.delay(attempt: attempt, base: .milliseconds(50), cap: .milliseconds(500)))
            attempt += 1
            previous = failure
        }
    }

    private func request(_ method: HTTPMethod, _ path: String, _ body: Data?) -> HTTPClientRequest {
        let separator = path.isEmpty || path.hasPrefix("/") || path.hasPrefix("?") ? "" : "/"
        var request = HTTPClientRequest(url: baseURL + separator + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let internalToken { request.headers.add(name: InternalRoute.header.rawName, value: internalToken) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        if let parent = TraceContext.current {
            request.headers.add(name: "traceparent", value: TraceContext.child(of: parent))
        }
        return request
    }

    /// One attempt, bounded by `policy.timeout` from the first byte sent to the last byte
    /// of the body.
    private func exchange(_ request: HTTPClientRequest) async throws -> ServiceResponse {
        let start = ContinuousClock.now
        let response = try await httpClient.execute(request, timeout: TimeAmount(policy.timeout))
        // AsyncHTTPClient's timeout ends at the response head; the body gets what is left.
        let remaining = policy.timeout - (ContinuousClock.now - start)
        guard let bytes = try await LoopTimer.withTimeout(remaining, { try await response.body.collect(upTo: Self.maxBody) }) else {
            throw BodyTimedOut()
        }
        return ServiceResponse(status: Int(response.status.code), body: Data(bytes.readableBytesView))
    }

    private func refusal(_ failure: Failure, retryAfter: Duration) -> Refusal {
        ChassisMetrics.shared.callRejected(target: name, reason: failure.label)
        let seconds = max(1, Int((Double(retryAfter.wholeMilliseconds) / 1000).rounded(.up)))
        return .unavailable("\(name) is unavailable: \(failure.reason(timeout: policy.timeout))", retryAfterSeconds: seconds)
    }

    private struct BodyTimedOut: Error {}

    /// Why a call did not produce an answer, as the refusal's reason and a metric label.
    private enum Failure {
        case bulkheadFull, noSlotInTime, circuitOpen, timedOut, unreachable, answered(Int), closedConnection, oversizedBody, other(String)

        init(_ error: any Error) {
            if let error = error as? ChannelError, case .connectTimeout = error {
                self = .unreachable
                return
            }
            switch error {
            case is BodyTimedOut: self = .timedOut
            case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout: self = .timedOut
            case let error as HTTPClientError where error == .connectTimeout: self = .unreachable
            case let error as HTTPClientError where error == .remoteConnectionClosed: self = .closedConnection
            case is NIOConnectionError, is IOError: self = .unreachable
            case is NIOTooManyBytesError: self = .oversizedBody
            default: self = .other("\(error)")
            }
        }

        func reason(timeout: Duration) -> String {
            switch self {
            case .bulkheadFull: "too many concurrent calls"
            case .noSlotInTime: "too many concurrent calls (no slot freed within the wait)"
            case .circuitOpen: "circuit open"
            case .timedOut: "timed out after \(milliseconds(timeout)) ms"
            case .unreachable: "not reachable"
            case .answered(let status): "answered \(status)"
            case .closedConnection: "closed the connection before answering"
            case .oversizedBody: "answered a body over \(ServiceClient.maxBody) bytes"
            case .other(let description): "call failed (\(description))"
            }
        }

        /// False only when the request certainly never left: the connection was not made.
        var mayHaveReached: Bool {
            if case .unreachable = self { false } else { true }
        }

        var label: String {
            switch self {
            case .bulkheadFull: "bulkhead_full"
            case .noSlotInTime: "bulkhead_wait"
            case .circuitOpen: "circuit_open"
            case .timedOut: "timeout"
            case .unreachable: "unreachable"
            case .answered: "server_error"
            case .closedConnection, .oversizedBody, .other: "failed"
            }
        }

        private func milliseconds(_ duration: Duration) -> Int64 {
            duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        }
    }
}

/// Runs `call`; if the target is unavailable (a ``Refusal/unavailable(_:retryAfterSeconds:)``
/// from a ``ServiceClient``), answers with `fallback` instead. Every other error, other
/// refusals included, is rethrown untouched: a fallback stands in for a missing
/// neighbour, never for a request that was wrong.
///
/// ```swift
/// let promotion = try await withFallback {
///     try await promotions.get("/promotions/\(id)").decode(Promotion.self)
/// } fallback: { _ in
///     Promotion.none
/// }
/// ```
public func withFallback<T>(
    isolation: isolated (any Actor)? = #isolation,
    _ call: () async throws -> T,
    fallback: (Refusal) async throws -> T
) async throws -> T {
    do {
        return try await call()
    } catch let refusal as Refusal {
        guard case .unavailable = refusal else { throw refusal }
        return try await fallback(refusal)
    }
}
