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
