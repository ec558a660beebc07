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


/// What one benchmark client does with each call: measure it under a name, count a
/// refusal by design (503 + `Retry-After`) in a row of its own, count anything else
/// unexpected as an error. Shared by every system's workload.
public struct BenchCalls: Sendable {
    public let progress: BenchProgress

    public init(progress: BenchProgress) { self.progress = progress }

    /// Makes one call, recording its latency under `name` when it answered `status` and
    /// `record` says so (``create(_:into:_:_:)`` records the headline itself, once it knows
    /// the answer carries an id); nil when it failed or was turned away.
    /// A 503 with `Retry-After` is recorded as `<name> 503 <reason>`: turned away as
    /// designed (bulkhead, breaker, a target too slow), with how fast the answer came.
    public func call(_ name: String, into tally: inout Tally, _ measuring: Bool, expect status: Int, record: Bool = true,
                     _ body: () async throws -> Answer) async -> Answer? {
        let started = ContinuousClock.now
        do {
            let answer = try await body()
            if answer.status == 503, answer.headers["retry-after"] != nil {
                if measuring { tally.record("\(name) 503 \(Self.reason(answer))", since: started) }
                return nil
            }
            guard answer.status == status else { throw StepFailure(answer.summary) }
            if measuring && record { tally.record(name, since: started) }
            return answer
        } catch {
            if measuring {
                tally.failed(name)
                progress.errors.add(1, ordering: .relaxed)
            }
            return nil
        }
    }

    /// The headline create (a paid request, an order): a call that must answer 201 with
    /// the new entity's id, recorded under `name` and counted in the progress line; the id,
    /// or nil when it failed or was turned away (counted as ``call(_:into:_:expect:record:_:)`` counts).
    public func create(_ name: String, into tally: inout Tally, _ measuring: Bool, _ body: () async throws -> Answer) async -> Int64? {
        let started = ContinuousClock.now
        guard let id = await call(name, into: &tally, measuring, expect: 201, record: false, body)?.body?["id"]?.int64Value else { return nil }
        if measuring {
            tally.record(name, since: started)
            progress.done.add(1, ordering: .relaxed)
        }
        return id
    }

    /// Why a 503 came, in a word: what the refusal's message names.
    public static func reason(_ answer: Answer) -> String {
        let message = answer.body?["error"]?.stringValue ?? ""
        for (words, reason) in [("no slot", "bulkhead wait"), ("concurrent", "bulkhead full"), ("circuit", "breaker"), ("timed out", "timeout"),
                                ("being taken already", "in-flight limit")]
        where message.contains(words) {
            return reason
        }
        return "other"
    }

    /// Polls `shows` every 5 ms from `since` until it is true, and records the time under
    /// `name`: an event-to-view lag as a customer sees it (polling adds at most ~5 ms).
    /// Counted as an error after 10 s. (Every 1 ms, the polls outnumbered the workload's
    /// own requests by 3 to 12 times at 32 clients, and the system measured was mostly
    /// answering its probe.)
    public func lag(_ name: String, since: ContinuousClock.Instant, into tally: inout Tally, _ measuring: Bool,
                    shows: () async -> Bool) async {
        while since.duration(to: .now) < .seconds(10) {
            if await shows() {
                if measuring { tally.record(name, since: since) }
                return
            }
            try? await LoopTimer.sleep(for: .milliseconds(5))
        }
        if measuring {
            tally.failed(name)
            progress.errors.add(1, ordering: .relaxed)
        }
    }
}
