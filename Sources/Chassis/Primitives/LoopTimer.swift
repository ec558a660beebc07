import NIOCore
import NIOPosix
import Synchronization

/// Timers and sleeps on NIO's event loops instead of `Task.sleep`.
///
/// On Linux `Task.sleep` arms a timer on Dispatch's manager thread; when it expires (or is
/// cancelled) that thread wakes a worker, which enqueues the task back onto the executor —
/// two thread hand-offs per sleep, even when the task already runs on NIO's loop (`msa
/// serve` makes NIO's loop the concurrency pool). Services arm timers constantly: every
/// waiting fetch, every outbox wait, every call's body deadline, most of them cancelled
/// long before they expire. A loop timer is an entry in the loop's heap, armed and
/// cancelled without a syscall when called on the loop; `any()` returns the current loop
/// when called on one.
public struct LoopTimer: Sendable {
    private let scheduled: Scheduled<Void>

    /// Runs `action` on an event loop at `deadline`, unless cancelled first.
    public init(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) {
        self.init(after: ContinuousClock.now.duration(to: deadline), action)
    }

    /// Runs `action` on an event loop after `delay`, unless cancelled first.
    public init(after delay: Duration, _ action: @escaping @Sendable () -> Void) {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        scheduled = loop.scheduleTask(in: TimeAmount(max(delay, .zero))) { action() }
    }

    /// Cancels the action if it has not run yet.
    public func cancel() {
        scheduled.cancel()
    }

    /// Suspends for `duration` on a loop timer; throws `CancellationError` when the task is
    /// cancelled meanwhile, like `Task.sleep`.
    public static func sleep(for duration: Duration) async throws {
        try await sleep(until: ContinuousClock.now + duration)
    }

    /// Suspends until `deadline` on a loop timer; throws `CancellationError` when the task is
    /// cancelled meanwhile, like `Task.sleep`.
    public static func sleep(until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        guard ContinuousClock.now < deadline else { return }
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                sleeper.start(continuation, timer: LoopTimer(at: deadline) { sleeper.finish(cancelled: false) })
            }
        } onCancel: {
            sleeper.finish(cancelled: true)
        }
    }
}

/// One sleep's state: the timer may fire, and the task be cancelled, before the
/// continuation is registered, on any thread; whichever comes first wins, exactly once.
private final class Sleeper: Sendable {
    private enum State {
        case starting
        case sleeping(CheckedContinuation<Void, any Error>, LoopTimer)
        case finished(cancelled: Bool)
    }

    private let state = Mutex(State.starting)

    func start(_ continuation: CheckedContinuation<Void, any Error>, timer: LoopTimer) {
        let early: Bool? = state.withLock { state in
            switch state {
            case .starting:
                state = .sleeping(continuation, timer)
                return nil
            case .finished(let cancelled):
                return cancelled
            case .sleeping:
                preconditionFailure("a sleep starts once")
            }
        }
        guard let cancelled = early else { return }
        timer.cancel()
        if cancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
    }

    func finish(cancelled: Bool) {
        let sleeping: (CheckedContinuation<Void, any Error>, LoopTimer)? = state.withLock { state in
            switch state {
            case .starting:
                state = .finished(cancelled: cancelled)
                return nil
            case .sleeping(let continuation, let timer):
                state = .finished(cancelled: cancelled)
                return (continuation, timer)
            case .finished:
                return nil
            }
        }
        guard let (continuation, timer) = sleeping else { return }
        if cancelled {
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        } else {
            continuation.resume()
        }
    }
}

extension LoopTimer {
    /// The result of `operation`, or nil if it has not finished after `timeout`.
    ///
    /// Unlike racing the operation against a sleep in a task group, this returns at the
    /// deadline even when the operation ignores cancellation (a query on a connection
    /// whose server vanished): the operation runs in a task of its own, which is cancelled
    /// and left to end on its own. Cancelling the caller cancels the operation and throws
    /// `CancellationError` at once. A result that arrives after the caller was answered is
    /// given to `late` (a connection opened too late is closed there, not leaked).
    public static func withTimeout<R: Sendable>(_ timeout: Duration, late: (@Sendable (R) async -> Void)? = nil,
                                                _ operation: @escaping @Sendable () async throws -> R) async throws -> R? {
        let race = Race<R>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.start(continuation,
                           task: Task {
                               let outcome = await Result(catchingAsync: operation)
                               if !race.finish(outcome.map(Optional.some)), case .success(let result) = outcome { await late?(result) }
                           },
                           timer: LoopTimer(after: timeout) { race.finish(.success(nil)) })
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }
}

extension Result where Failure == any Error {
    init(catchingAsync body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// The state of one ``LoopTimer/withTimeout(_:late:_:)``: the first outcome — the operation's,
/// the deadline's, or the caller's cancellation — resumes the caller, exactly once, and
/// stops the other two.
private final class Race<R: Sendable>: Sendable {
    private enum State {
        case starting(early: Result<R?, any Error>?)
        case running(CheckedContinuation<R?, any Error>, Task<Void, Never>, LoopTimer)
        case finished
    }

    private let state = Mutex(State.starting(early: nil))

    func start(_ continuation: CheckedContinuation<R?, any Error>, task: Task<Void, Never>, timer: LoopTimer) {
        let early: Result<R?, any Error>? = state.withLock { state in
            guard case .starting(let early) = state else { preconditionFailure("a race starts once") }
            if let early {
                state = .finished
                return early
            }
            state = .running(continuation, task, timer)
            return nil
        }
        guard let early else { return }
        task.cancel()
        timer.cancel()
        continuation.resume(with: early)
    }

    /// Whether `outcome` is the one the caller gets (false: another came first).
    @discardableResult func finish(_ outcome: Result<R?, any Error>) -> Bool {
        let (won, running): (Bool, (CheckedContinuation<R?, any Error>, Task<Void, Never>, LoopTimer)?) = state.withLock { state in
            switch state {
            case .starting(nil):
                state = .starting(early: outcome)
                return (true, nil)
            case .running(let continuation, let task, let timer):
                state = .finished
                return (true, (continuation, task, timer))
            case .starting, .finished:
                return (false, nil)
            }
        }
        guard let (continuation, task, timer) = running else { return won }
        task.cancel()
        timer.cancel()
        continuation.resume(with: outcome)
        return true
    }
}
