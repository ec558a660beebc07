@testable import Chassis
import ChassisTesting
import ServiceLifecycle
import Synchronization
import Testing

/// A job declared with its interval runs again and again until its task ends.
@Suite struct JobTests {
    @Test func aJobDeclaredWithItsIntervalRunsEveryIntervalUntilCancelled() async throws {
        try await withTemporaryDirectory { directory in
            let store = try directory.makeSQLiteStore(service: "jobs")
            let runtime = ServiceRuntime(name: "jobs", store: store, bus: try directory.makeSQLiteLog(), environment: [:], logger: quietLogger)
            let runs = Runs()
            let job = ServiceDefinition.Job.every(.milliseconds(10)) { _ in runs.count.withLock { $0 += 1 } }
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

/// A one-off start job holds the service's readiness until it succeeded, retried while
/// it throws; the service runs on after it.
@Suite struct StartJobTests {
    @Test func readinessWaitsForTheStartJobWhichIsRetriedUntilItSucceeds() async throws {
        let attempts = Runs()
        let gate = Mutex(false)
        let service = ServiceDefinition(name: "shelves", jobs: [.once { _ in
            attempts.count.withLock { $0 += 1 }
            guard gate.withLock({ $0 }) else { throw SettingError("not stocked yet") }
        }]) { _, _ in }
        try await ChassisTesting.withService(service, system: "test") { rig in
            let jobs = ServiceGroup(services: rig.host.backgroundServices().filter { $0 is JobService }, logger: quietLogger)
            let running = Task { try await jobs.run() }
            try await eventually("the job tried twice", timeout: .seconds(10)) { attempts.count.withLock { $0 } >= 2 }
            let waiting = try await rig.get("/actuator/health")
            #expect(waiting.status == .serviceUnavailable && waiting.json["components"]?["start"]?["status"] == "DOWN", "\(waiting.json)")
            #expect(try await rig.get("/actuator/health/readiness").status == .serviceUnavailable)
            gate.withLock { $0 = true }
            try await eventually("ready once the job succeeded", timeout: .seconds(10)) { try await rig.get("/actuator/health/readiness").status == .ok }
            let settled = attempts.count.withLock { $0 }
            #expect(!running.isCancelled && attempts.count.withLock { $0 } == settled, "a job that succeeded is not run again; the service runs on")
            await jobs.triggerGracefulShutdown()
            try await running.value
        }
    }
}
