/// Exponential backoff with jitter: the delay before retry `attempt` (1-based) doubles from
/// `base` up to `cap`, and each delay is drawn between half and all of it, so that many
/// retriers that failed together do not retry together.
public enum Backoff {
    public static func delay(attempt: Int, base: Duration, cap: Duration) -> Duration {
        let exponent = min(max(attempt - 1, 0), 20)
        let ceiling = min(base * (1 << exponent), cap)
        return .milliseconds(Int64(Double.random(in: 0.5...1.0) * Double(ceiling.wholeMilliseconds)))
    }
}
