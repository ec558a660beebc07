import ChassisTesting
import Testing

@Suite("PostgresStore conformance", .enabled(if: TestServers.postgresURL != nil || TestServers.required,
                                              "needs MSA_TEST_POSTGRES (scripts/infra.sh start postgres)"))
struct PostgresStoreConformanceTests {
    @Test(arguments: StoreConformance.cases)
    func postgresStoreConforms(_ c: StoreConformance.Case) async throws {
        try await withPostgresStore(service: "conformance") { store in try await c.run(store) }
    }
}
