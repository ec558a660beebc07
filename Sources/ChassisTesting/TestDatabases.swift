import Chassis
import Foundation

/// The production-mode servers `scripts/infra.sh` starts for the test command, found
/// through the environment it writes (`MSA_TEST_POSTGRES`, …). A bare `swift test`
/// without them skips the tests that need a server; `scripts/test.sh` sets
/// `MSA_TEST_REQUIRE_SERVERS`, under which their absence is a failure.
public enum TestServers {
    public static var postgresURL: String? { ProcessInfo.processInfo.environment["MSA_TEST_POSTGRES"] }
    public static var required: Bool { ProcessInfo.processInfo.environment["MSA_TEST_REQUIRE_SERVERS"] != nil }

    /// A new, empty store in a schema of its own on the test PostgreSQL server.
    public static func makePostgresStore(service: String = "test") async throws -> PostgresStore {
        guard let url = postgresURL else { throw ConformanceFailure("MSA_TEST_POSTGRES is not set: run scripts/infra.sh start postgres") }
        return try await PostgresStore(url: url, schema: "t_\(RandomID.uuid().replacingOccurrences(of: "-", with: "").prefix(16))",
                                       service: service)
    }
}

/// Runs `body` with a fresh PostgreSQL store and drops its schema afterwards, however
/// `body` ends.
public func withPostgresStore<T>(service: String = "test", isolation: isolated (any Actor)? = #isolation,
                                 _ body: (PostgresStore) async throws -> T) async throws -> T {
    let store = try await TestServers.makePostgresStore(service: service)
    do {
        let result = try await body(store)
        try await store.dropSchemaAndClose()
        return result
    } catch {
        try? await store.dropSchemaAndClose()
        throw error
    }
}
