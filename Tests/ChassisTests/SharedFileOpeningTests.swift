@testable import Chassis
import ChassisTesting
import Foundation
import Testing

/// The processes of `msa up` start together and open the shared event log at the same
/// moment (replicas of a service likewise open its SQLite store): the first opening of a
/// fresh file must not fail for any of them. Several pools in one process race the same
/// way separate processes do.
@Suite struct SharedFileOpeningTests {
    @Test func manyOpenersOfAFreshEventLogAllSucceed() async throws {
        for round in 0..<5 {
            let directory = try TemporaryDirectory(prefix: "shared-log")
            defer { directory.remove() }
            let path = directory.file("log-\(round).sqlite")
            let partitions = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try SQLiteEventLog(path: path, partitions: 4).partitionCount } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(partitions == Array(repeating: 4, count: 8))
        }
    }

    @Test func manyOpenersOfAFreshStoreAllSucceed() async throws {
        for round in 0..<5 {
            let directory = try TemporaryDirectory(prefix: "shared-store")
            defer { directory.remove() }
            let path = directory.file("store-\(round).sqlite")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { _ = try SQLiteStore(path: path, service: "s") } }
                try await group.waitForAll()
            }
        }
    }

    /// A replica's transaction waits for another's write lock on the shared file (without
    /// holding its thread: ``SQLiteStore/begin()``) and commits once it is free; nothing
    /// of either is lost. Past the busy timeout it fails, as SQLite's own wait did, and the
    /// store works on.
    @Test func aWriterWaitsForAnotherReplicasLockThenCommitsAndFailsPastTheBusyTimeout() async throws {
        let directory = try TemporaryDirectory(prefix: "shared-lock")
        defer { directory.remove() }
        let path = directory.file("store.sqlite")
        let holder = try SQLiteStore(path: path, service: "s")
        let waiter = try SQLiteStore(path: path, service: "s", busyTimeout: 0.3)
        let release = Doorbell()

        let held = Task {
            try await holder.write { tx in
                try await tx.put("notes", id: 1, body: Data(#"{"by":"holder"}"#.utf8))
                await release.wait(timeout: .seconds(30))
            }
        }
        try await eventually("the holder has the lock") { (try? await waiter.write { _ in }) == nil }
        let waiting = Task { try await SQLiteStoreLockTest.write(waiter, id: 2) }
        await release.ring()
        try await held.value
        try await waiting.value  // it waited past the holder's commit and committed
        let first = try await waiter.document("notes", id: 1), second = try await waiter.document("notes", id: 2)
        #expect(first != nil && second != nil)

        let longer = Doorbell()
        let heldLonger = Task {
            try await holder.write { _ in await longer.wait(timeout: .seconds(30)) }
        }
        try await eventually("the holder has the lock again") { (try? await waiter.write { _ in }) == nil }
        let started = ContinuousClock.now
        let error = await #expect(throws: (any Error).self) { try await SQLiteStoreLockTest.write(waiter, id: 3) }
        #expect(error.map { "\($0)" }?.contains("database is locked") == true, "\(String(describing: error))")
        #expect(started.duration(to: .now) >= .milliseconds(300), "it waited for the busy timeout")
        await longer.ring()
        try await heldLonger.value
        try await SQLiteStoreLockTest.write(waiter, id: 3)
        let third = try await waiter.document("notes", id: 3)
        #expect(third != nil)
        try await holder.close()
        try await waiter.close()
    }
}

enum SQLiteStoreLockTest {
    static func write(_ store: SQLiteStore, id: Int64) async throws {
        try await store.write { tx in try await tx.put("notes", id: id, body: Data(#"{"by":"waiter"}"#.utf8)) }
    }
}
