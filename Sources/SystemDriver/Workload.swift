import Chassis
import Histogram
import Synchronization

/// One kind of measured call and its latencies in microseconds.
public struct Measure: Sendable {
    public var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    public var errors = 0

    public init() {}

    public mutating func record(since start: ContinuousClock.Instant) {
        _ = latency.record(UInt64(max(1, (ContinuousClock.now - start).wholeNanoseconds / 1000)))
    }

    public mutating func add(_ other: Measure) {
        latency.add(other.latency)
        errors += other.errors
    }
}

/// What a benchmark's clients measured, by operation name.
public struct Tally: Sendable {
    public var measures: [String: Measure] = [:]

    public init() {}

    public mutating func record(_ name: String, since start: ContinuousClock.Instant) { measures[name, default: Measure()].record(since: start) }
    public mutating func failed(_ name: String) { measures[name, default: Measure()].errors += 1 }
    public mutating func add(_ other: Tally) {
        for (name, measure) in other.measures { measures[name, default: Measure()].add(measure) }
    }
}

/// A system-specific workload: one client's loop and the name of the operation whose
/// rate is the headline figure.
public protocol Workload: Sendable {
    var headline: String { get }
    var clients: Int { get }
    /// Runs one client until `deadline`; records only while `measuring` says so.
    func client(_ index: Int, until deadline: ContinuousClock.Instant, progress: BenchProgress) async -> Tally
}

/// Counts shared by the clients for the progress line.
public final class BenchProgress: Sendable {
    public let done = Atomic<Int>(0)
    public let errors = Atomic<Int>(0)
    public let measuringSince = Mutex<ContinuousClock.Instant?>(nil)

    public init() {}

    public var isMeasuring: Bool { measuringSince.withLock { $0 != nil } }
}

