import Foundation

/// Wall-clock helpers kept in one place so stored times share a unit.
public enum Clock {
    public static func millis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

extension Duration {
    /// Whole milliseconds, sub-second part included (truncated below a millisecond).
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
    public var wholeNanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

extension Clock {
    /// Now as an ISO 8601 UTC timestamp to the second, `2021-10-05T09:30:00Z`: the form
    /// stored times take when a seed kept them as strings.
    public static func timestamp(_ now: Date = Date()) -> String {
        timestamp(millis: Int64((now.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// ``timestamp(_:)`` of a time in milliseconds since 1970.
    public static func timestamp(millis: Int64) -> String {
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}

extension Clock {
    /// A time as Jackson writes a `java.util.Date` by default, `2021-02-24T10:27:20.732+0000`:
    /// the form the seeds' Spring services answered `createTime` in.
    public static func jacksonTimestamp(millis: Int64 = Clock.millis()) -> String {
        let seconds = timestamp(millis: millis).dropLast()   // "2021-02-24T10:27:20"
        let fraction = String(millis % 1000 + 1000).dropFirst()
        return "\(seconds).\(fraction)+0000"
    }
}
