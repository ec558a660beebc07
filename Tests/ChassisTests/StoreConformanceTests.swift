import ChassisTesting
import Testing

@Suite("SQLiteStore conformance")
struct StoreConformanceTests {
    /// Cases SQLiteStore fails today, with the bug each shows. Remove an entry when its fix
    /// lands: a known issue that no longer occurs fails the test.
    static let knownIssues: [String: Comment] = [:]

    @Test(arguments: StoreConformance.cases)
    func sqliteStoreConforms(_ c: StoreConformance.Case) async throws {
        try await withTemporaryDirectory { directory in
            let store = try directory.makeSQLiteStore(service: "conformance")
            if let issue = Self.knownIssues[c.name] {
                await withKnownIssue(issue) { try await c.run(store) }
            } else {
                try await c.run(store)
            }
        }
    }
}
