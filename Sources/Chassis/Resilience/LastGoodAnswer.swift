import Synchronization

/// The last answer a call to another service gave, kept to stand in for it while that
/// service cannot answer: a fallback that tells the truth about its age.
///
/// ```swift
/// let knownDates = LastGoodAnswer<DateList>(maxAge: .seconds(600))
/// let answer = try await knownDates.fetch { try await reservation.get("/reservation/date").decode(DateList.self) }
/// answer.value; answer.isStale; answer.asOf      // stale: the target was unavailable
/// ```
///
/// A call that succeeds replaces the kept answer. A call the target could not answer
/// (``Refusal/unavailable(_:retryAfterSeconds:)``: down, slow, its breaker open or its
/// bulkhead full) is answered with the kept one, marked stale, if it is at most `maxAge`
/// old; otherwise the 503 is rethrown, `Retry-After` and all. Every other error is
/// rethrown untouched, as ``withFallback(isolation:_:fallback:)`` does: a fallback stands in
/// for a missing neighbour, never for a request that was wrong.
///
/// The answer is kept in memory, per process: each replica has its own, and a replica
/// that has not yet had an answer has nothing to stand in with. It is a cache, not a
/// record; the target stays the authority.
public final class LastGoodAnswer<Value: Sendable>: Sendable {
    public struct Answer: Sendable {
        public let value: Value
        /// True when the target was unavailable and this is the answer kept from before.
        public let isStale: Bool
        /// When the target gave this answer, in milliseconds since 1970.
        public let asOf: Int64
    }

    public let maxAge: Duration
    private let kept = Mutex<(value: Value, at: ContinuousClock.Instant, asOf: Int64)?>(nil)

    public init(maxAge: Duration) {
        self.maxAge = maxAge
    }

    public func fetch(isolation: isolated (any Actor)? = #isolation, _ call: () async throws -> Value) async throws -> Answer {
        do {
            let value = try await call()
            let asOf = Clock.millis()
            kept.withLock { $0 = (value, .now, asOf) }
            return Answer(value: value, isStale: false, asOf: asOf)
        } catch let refusal as Refusal {
            guard case .unavailable = refusal, let (value, at, asOf) = kept.withLock({ $0 }), ContinuousClock.now - at <= maxAge else {
                throw refusal
            }
            return Answer(value: value, isStale: true, asOf: asOf)
        }
    }
}
