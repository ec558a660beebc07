/// How long to wait before starting again a process that exited unexpectedly: doubling
/// while it keeps failing soon after it starts, and starting short again once it stayed
/// up for `stable` — a service that crashes now and then after running fine is not
/// treated as one that cannot start (the supervisor's delay used to double with each crash
/// of a run and stay at its cap for the rest of it).
///
/// ```swift
/// var backoff = RestartBackoff()
/// let delay = backoff.delay(afterRunning: uptime)   // 400 ms, 800 ms … 5 s; 400 ms again after 10 s up
/// ```
public struct RestartBackoff: Sendable, Equatable {
    public var first: Duration
    public var cap: Duration
    /// Uptime after which a crash counts as the first of a new streak.
    public var stable: Duration
    /// Crashes in the current streak, each within `stable` of its start.
    public private(set) var streak = 0

    public init(first: Duration = .milliseconds(400), cap: Duration = .seconds(5), stable: Duration = .seconds(10)) {
        self.first = first
        self.cap = cap
        self.stable = stable
    }

    /// The delay before the next start, for a process that ran `uptime` before it exited.
    public mutating func delay(afterRunning uptime: Duration) -> Duration {
        streak = uptime >= stable ? 1 : streak + 1
        return min(first * (1 << min(streak - 1, 16)), cap)
    }

    /// Forgets the streak (an operator started the process by hand).
    public mutating func reset() { streak = 0 }
}
