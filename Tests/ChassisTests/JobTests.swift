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
