import Hummingbird

/// `<SERVICE>_DELAY_MS`: a pause before each of the service's own requests is handled —
/// the seeds slow payment, reservation and gift this way to show what a slow neighbour
/// does to its callers (`PAYMENT_DELAY_MS=400-620` is the Rental seed's circuit-breaker
/// experiment).
///
/// - The value is milliseconds, `"500"`, or a uniform range, `"400-620"`; `"0"` or unset
///   is no delay. Anything else stops the service at startup with the setting's name:
///   an experiment that silently ran without its delay would measure nothing.
/// - It holds the routes the service declares, every method, and nothing the chassis
///   serves beside them (`/health/*`, `/metrics`, `/admin/*`): a slowed service still
///   answers its probes and scrapes at once, as a slow database behind a live pod would.
/// - The pause is a timer, not a blocked thread: a slowed service holds many requests
///   at once, and a caller that gives up (its timeout) cancels it.
public struct InboundDelay: Sendable, RouterMiddleware {
    public typealias Context = BasicRequestContext

    /// The pause, in milliseconds, drawn uniformly for each request.
    public let milliseconds: ClosedRange<Int>

    /// Parses `text`, the value of `setting`; nil for no delay.
    public init?(_ text: String, setting: String) throws {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil, low >= 0, low <= high else {
            throw Invalid(setting: setting, value: text)
        }
        guard high > 0 else { return nil }
        milliseconds = low...high
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await LoopTimer.sleep(for: .milliseconds(Int.random(in: milliseconds)))
        return try await next(request, context)
    }

    /// A delay setting that is neither milliseconds nor a range of them.
    public struct Invalid: Error, CustomStringConvertible {
        public let setting: String
        public let value: String
        public var description: String {
            "\(setting) must be milliseconds (\"500\") or a range of them (\"400-620\"), not \"\(value)\""
        }
    }
}
