import Chassis
import ChassisTesting
import Synchronization
import Testing

/// Sleeps and timers on NIO's loop must behave like `Task.sleep`: never early, and a
/// cancelled sleep ends at once with `CancellationError`, whatever order the timer, the
/// cancellation and the suspension happen in.
@Suite struct LoopTimerTests {
    @Test func aSleepLastsAtLeastItsDuration() async throws {
        let start = ContinuousClock.now
        try await LoopTimer.sleep(for: .milliseconds(20))
        #expect(start.duration(to: .now) >= .milliseconds(20))
    }

    @Test func aCancelledSleepEndsAtOnceWithCancellationError() async throws {
        let start = ContinuousClock.now
        let sleeper = Task { try await LoopTimer.sleep(for: .seconds(60)) }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(start.duration(to: .now) < .seconds(30))
    }

    @Test func aSleepInACancelledTaskThrowsWithoutWaiting() async throws {
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await LoopTimer.sleep(for: .seconds(60))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test func aTimerRunsItsActionUnlessCancelled() async throws {
        let ran = Mutex<[String]>([])
        let cancelled = LoopTimer(after: .milliseconds(5)) { ran.withLock { $0.append("cancelled") } }
        cancelled.cancel()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            _ = LoopTimer(after: .milliseconds(20)) {
                ran.withLock { $0.append("kept") }
                done.resume()
            }
        }
        #expect(ran.withLock { $0 } == ["kept"])
    }

    /// Cancellations racing the timers and the suspensions: every sleep ends, cancelled
    /// ones with `CancellationError`, the others normally.
    @Test func sleepsRacingCancellationAllEnd() async throws {
        let outcomes = await withTaskGroup(of: (cancelled: Bool, threw: Bool).self) { group in
            for i in 0..<400 {
                let sleeper = Task { try await LoopTimer.sleep(for: .microseconds(i % 7 * 300)) }
                let cancel = i % 2 == 0
                if cancel { sleeper.cancel() }
                group.addTask {
                    do { try await sleeper.value; return (cancel, false) } catch { return (cancel, true) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 400)
        // A sleep cancelled after its timer fired may end normally; one never cancelled never throws.
        #expect(outcomes.filter { !$0.cancelled && $0.threw }.isEmpty)
    }
}

@Suite struct LoopTimerTimeoutTests {
    struct Boom: Error {}

    @Test func anOperationThatFinishesInTimeGivesItsResultOrError() async throws {
        #expect(try await LoopTimer.withTimeout(.seconds(30)) { 42 } == 42)
        await #expect(throws: Boom.self) { _ = try await LoopTimer.withTimeout(.seconds(30)) { () async throws -> Int in throw Boom() } }
    }

    /// The operation ignores cancellation (it waits for a gate only the test opens): the
    /// caller still gets nil at the deadline, and the operation was asked to stop.
    @Test func theDeadlineWinsEvenOverAnOperationThatIgnoresCancellation() async throws {
        let gate = Gate()
        let sawCancellation = Mutex(false)
        let result = try await LoopTimer.withTimeout(.milliseconds(50)) { () async -> Int in
            await gate.wait()
            sawCancellation.withLock { $0 = Task.isCancelled }
            return 1
        }
        #expect(result == nil)
        await gate.open()
        try await eventually("the abandoned operation ended, cancelled") { sawCancellation.withLock { $0 } }
    }

    /// A connection opened after the deadline is handed over to be closed: dropped, a
    /// PostgreSQL connection asserts in its deinit (a crash in a debug build) and leaks.
    @Test func aResultThatArrivesAfterTheDeadlineGoesToLate() async throws {
        let gate = Gate()
        let late = Mutex<[Int]>([])
        let onTime = try await LoopTimer.withTimeout(.seconds(30), late: { value in late.withLock { $0.append(value) } }) { 1 }
        #expect(onTime == 1)
        let result = try await LoopTimer.withTimeout(.milliseconds(50), late: { value in late.withLock { $0.append(value) } }) { () async -> Int in
            await gate.wait()
            return 2
        }
        #expect(result == nil)
        await gate.open()
        try await eventually("the late result handed over") { late.withLock { $0 } == [2] }
    }

    @Test func cancellingTheCallerThrowsAtOnce() async throws {
        let caller = Task { try await LoopTimer.withTimeout(.seconds(60)) { try await LoopTimer.sleep(for: .seconds(60)) } }
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
    }
}

/// Suspends waiters, ignoring their cancellation, until opened.
actor Gate {
    private var opened = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if opened { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        opened = true
        waiters.forEach { $0.resume() }
        waiters = []
    }
}
