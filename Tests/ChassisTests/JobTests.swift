import Chassis
import ChassisTesting
import Synchronization
import Testing

/// A job declared with its interval runs again and again until its task ends.
@Suite struct JobTests {
    @Test func aJobDeclaredWithItsIntervalRunsEveryIntervalUntilCancelled() async throws {
        try await withTemporaryDirectory { directory in
            let store = try directory.makeSQLiteStore(service: "jobs")
            let runtime = ServiceRuntime(name: "jobs", store: store, bus: try directory.makeSQLiteLog(), environment: [:], logger: quietLogger)
            let runs = Runs()
            let job = ServiceDefinition.every(.milliseconds(10)) { _ in runs.count.withLock { $0 += 1 } }
            let running = Task { try await job(runtime) }

            try await eventually("three runs") { runs.count.withLock { $0 } >= 3 }
            running.cancel()

            await #expect(throws: CancellationError.self) { try await running.value }
            let settled = runs.count.withLock { $0 }
            try await LoopTimer.sleep(for: .milliseconds(50))
            #expect(runs.count.withLock { $0 } == settled, "no run after cancellation")
            try await store.close()
        }
    }
}

private final class Runs: Sendable {
    let count = Mutex(0)
}

/// The supervisor's restart delay: doubling while a process keeps crashing soon after it
/// starts, short again once it stayed up.
@Suite struct RestartBackoffTests {
    @Test func crashesSoonAfterStartingDoubleTheDelayUpToTheCap() {
        var backoff = RestartBackoff()
        let delays = (1...7).map { _ in backoff.delay(afterRunning: .milliseconds(300)) }
        #expect(delays == [.milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5), .seconds(5)])
    }

    @Test func aProcessThatStayedUpStartsAgainFromTheShortestDelay() {
        var backoff = RestartBackoff()
        for _ in 1...6 { _ = backoff.delay(afterRunning: .seconds(1)) }
        #expect(backoff.delay(afterRunning: .seconds(10)) == .milliseconds(400))
        #expect(backoff.delay(afterRunning: .seconds(2)) == .milliseconds(800), "a new streak doubles again")
    }

    @Test func startingByHandForgetsTheStreak() {
        var backoff = RestartBackoff()
        for _ in 1...4 { _ = backoff.delay(afterRunning: .zero) }
        backoff.reset()
        #expect(backoff.delay(afterRunning: .zero) == .milliseconds(400))
    }
}
