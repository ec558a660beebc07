/// The W3C trace context of the work in progress, carried from HTTP requests and event
/// envelopes into the events they raise.
public enum TraceContext {
    @TaskLocal public static var current: String?

    /// A fresh `traceparent` (version 00, sampled).
    public static func newTraceparent() -> String {
        "00-\(randomHex(UInt64.random(in: .min ... .max)))\(randomHex(UInt64.random(in: .min ... .max)))-\(newSpanId())-01"
    }

    /// The same trace with a new span id: what a callee or a consumer continues with.
    public static func child(of parent: String?) -> String {
        let parts = parent?.split(separator: "-") ?? []
        guard parts.count == 4, parts[1].utf8.count == 32 else { return newTraceparent() }
        return "00-\(parts[1])-\(newSpanId())-\(parts[3])"
    }

    static func newSpanId() -> String { randomHex(UInt64.random(in: .min ... .max)) }

    /// Sixteen lower-case hex digits. (Every request and event makes one or two ids, so
    /// this avoids `String(format:)`, which costs more than the rest of the id together.)
    static func randomHex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.utf8.count) + digits
    }
}
