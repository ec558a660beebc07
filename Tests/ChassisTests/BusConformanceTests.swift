import ChassisTesting
import Testing

@Suite("SQLiteEventLog conformance")
struct BusConformanceTests {
    @Test(arguments: BusConformance.cases)
    func sqliteEventLogConforms(_ c: BusConformance.Case) async throws {
        try await withTemporaryDirectory { directory in
            try await c.run(directory.makeSQLiteLog(partitions: 4))
        }
    }
}
