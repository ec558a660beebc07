import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// How a ``ServiceClient`` treats one target: the limits that keep a slow or dead
/// neighbour from taking this service down with it.
public struct CallPolicy: Sendable {
    /// The most one attempt may take, response body included (the seeds' Feign timeout).
    public var timeout: Duration
    /// Consecutive failed attempts (connection errors, timeouts, 5xx) that open the breaker.
    public var failureThreshold: Int
    /// How long an open breaker rejects every call before it lets a probe through.
    public var openDuration: Duration
    /// Calls admitted while half-open; the first result decides.
    public var halfOpenProbes: Int
    /// Calls to this target in flight at once; more are rejected, not queued.
    public var maxConcurrent: Int
    /// Extra attempts after a failed one, for idempotent calls only.
    public var retries: Int
    /// The `Retry-After` this service answers when the target is unavailable.
    public var retryAfterSeconds: Int

    public init(
        timeout: Duration = .milliseconds(610),
        failureThreshold: Int = 5,
        openDuration: Duration = .seconds(5),
        halfOpenProbes: Int = 1,
        maxConcurrent: Int = 64,
        retries: Int = 1,
        retryAfterSeconds: Int = 5
    ) {
        self.timeout = timeout
        self.failureThreshold = failureThreshold
        self.openDuration = openDuration
        self.halfOpenProbes = halfOpenProbes
        self.maxConcurrent = maxConcurrent
        self.retries = retries
        self.retryAfterSeconds = retryAfterSeconds
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
/// 1. the ``Bulkhead`` (`maxConcurrent`): a full one rejects at once;
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
/// Every way the target can let the caller down surfaces as
/// `Refusal.unavailable("<name> is unavailable: <reason>", retryAfterSeconds:)`, which
/// the HTTP layer answers as 503 with `Retry-After`; thrown inside a command's
/// transaction it rolls that transaction back, so nothing half-done stays behind. Each
/// one is counted as
/// `msa_calls_rejected_total{target, reason}`. Cancelling the calling task cancels the
/// request, throws `CancellationError` and does not count against the target.
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
    public static let pooled: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = CallPolicy().maxConcurrent
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(name: String, baseURL: String, policy: CallPolicy = .init(), httpClient: HTTPClient = ServiceClient.pooled) {
        self.name = name
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.policy = policy
        self.breaker = CircuitBreaker(target: name, policy: policy)
        self.bulkhead = Bulkhead(limit: policy.maxConcurrent)
        self.httpClient = httpClient
    }

    /// Sends `body` (already JSON) to `path` under the guarantees above. Pass
    /// `idempotent: true` only when doing the call twice has the effect of doing it once.
    public func send(_ method: HTTPMethod, _ path: String, json body: Data? = nil, idempotent: Bool) async throws -> ServiceResponse {
        guard bulkhead.tryEnter() else { throw refusal(.bulkheadFull) }
        defer { bulkhead.leave() }

        let attempts = idempotent ? 1 + max(policy.retries, 0) : 1
        var attempt = 1
        var previous: Failure?
        while true {
            do { try await breaker.acquire() } catch is CircuitBreaker.Rejected {
                // A retry stopped by the breaker our own failure opened: report that failure.
                throw refusal(previous ?? .circuitOpen)
            }
            let failure: Failure
            do {
                let response = try await exchange(request(method, path, body))
                if response.status < 500 {
                    await breaker.record(success: true)
                    return response
                }
                failure = .answered(response.status)
            } catch {
                // Our caller gave up; that says nothing about the target.
                if Task.isCancelled { throw CancellationError() }
                failure = Failure(error)
            }
            await breaker.record(success: false)
            guard attempt < attempts else { throw refusal(failure) }
            try await LoopTimer.sleep(for: Backoff.delay(attempt: attempt, base: .milliseconds(50), cap: .milliseconds(500)))
            attempt += 1
            previous = failure
        }
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

    private func request(_ method: HTTPMethod, _ path: String, _ body: Data?) -> HTTPClientRequest {
        let separator = path.isEmpty || path.hasPrefix("/") || path.hasPrefix("?") ? "" : "/"
        var request = HTTPClientRequest(url: baseURL + separator + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
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

    private func refusal(_ failure: Failure) -> Refusal {
        ChassisMetrics.shared.callRejected(target: name, reason: failure.label)
        return .unavailable("\(name) is unavailable: \(failure.reason(timeout: policy.timeout))", retryAfterSeconds: policy.retryAfterSeconds)
    }

    private struct BodyTimedOut: Error {}

    /// Why a call did not produce an answer, as the refusal's reason and a metric label.
    private enum Failure {
        case bulkheadFull, circuitOpen, timedOut, unreachable, answered(Int), closedConnection, oversizedBody, other(String)

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
            case .circuitOpen: "circuit open"
            case .timedOut: "timed out after \(milliseconds(timeout)) ms"
            case .unreachable: "not reachable"
            case .answered(let status): "answered \(status)"
            case .closedConnection: "closed the connection before answering"
            case .oversizedBody: "answered a body over \(ServiceClient.maxBody) bytes"
            case .other(let description): "call failed (\(description))"
            }
        }

        var label: String {
            switch self {
            case .bulkheadFull: "bulkhead_full"
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
