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
}
