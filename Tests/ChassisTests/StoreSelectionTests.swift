import Chassis
import Testing

/// Which store a service opens, from its configuration (`MSA_STORE`, `<SERVICE>_STORE`).
@Suite struct StoreSelectionTests {
    let url = "postgres://msa:secret@db.internal:5432/rental"

    func resolve(_ service: String, _ environment: [String: String]) throws -> StoreSelection {
        try resolve(service, .systemDefault, environment)
    }

    func resolve(_ service: String, _ preference: StorePreference, _ environment: [String: String]) throws -> StoreSelection {
        try StoreSelection.resolve(system: "rental", service: service, preference: preference, dataDirectory: "/data", environment: environment)
    }

    @Test func withoutConfigurationEveryServiceHasItsSQLiteFile() throws {
        #expect(try resolve("reserve", [:]) == .sqlite(path: "/data/reserve.sqlite"))
        #expect(try resolve("reserve", ["MSA_STORE": "sqlite"]) == .sqlite(path: "/data/reserve.sqlite"))
    }

    @Test func theSystemStoreGivesEachServiceASchemaOfItsOwn() throws {
        #expect(try resolve("reserve", ["MSA_STORE": url]) == .postgres(url: url, schema: "rental_reserve"))
        #expect(try resolve("payment", ["MSA_STORE": url]) == .postgres(url: url, schema: "rental_payment"))
    }

    @Test func anEmbeddedPreferenceKeepsSQLiteUnlessTheServiceItselfIsConfigured() throws {
        #expect(try resolve("mypage", .embedded, ["MSA_STORE": url]) == .sqlite(path: "/data/mypage.sqlite"))
        #expect(try resolve("mypage", .embedded, ["MSA_STORE": url, "MYPAGE_STORE": url]) == .postgres(url: url, schema: "rental_mypage"))
    }

    @Test func aServiceSettingOverridesTheSystemOneBothWays() throws {
        let own = "postgres://reserve@other:6432/reserve_db"
        #expect(try resolve("reserve", ["MSA_STORE": url, "RESERVE_STORE": own]) == .postgres(url: own, schema: "rental_reserve"))
        #expect(try resolve("reserve", ["MSA_STORE": url, "RESERVE_STORE": "sqlite"]) == .sqlite(path: "/data/reserve.sqlite"))
    }

    @Test func aStoreThatIsNeitherIsRefusedNamingTheSetting() throws {
        let error = #expect(throws: PostgresURL.Invalid.self) { try resolve("reserve", ["MSA_STORE": "mysql://x"]) }
        #expect(error?.description.contains("MSA_STORE") == true)
        let own = #expect(throws: PostgresURL.Invalid.self) { try resolve("reserve", ["RESERVE_STORE": "postgres://"]) }
        #expect(own?.description.contains("RESERVE_STORE") == true)
    }

    @Test func theSummaryNamesTheServerButNotThePassword() throws {
        let summary = try resolve("reserve", ["MSA_STORE": url]).summary
        #expect(summary.contains("db.internal:5432/rental") && summary.contains("rental_reserve"))
        #expect(!summary.contains("secret"))
    }

    @Test func urlsParseAsLibpqWritesThem() throws {
        let full = try PostgresURL("postgresql://u:p@h:6000/d")
        #expect(full == PostgresURL(host: "h", port: 6000, user: "u", password: "p", database: "d"))
        let short = try PostgresURL("postgres://h")
        #expect(short.port == 5432 && short.user == "postgres" && short.database == "postgres" && short.password == nil)
        let socket = try PostgresURL("postgres://u:p@:6000/d?host=/run/postgresql")
        #expect(socket == PostgresURL(host: "", port: 6000, user: "u", password: "p", database: "d", socketDirectory: "/run/postgresql"))
        #expect(socket.endpoint == "/run/postgresql/.s.PGSQL.6000")
        #expect(try PostgresURL(socket.url(database: "other")).socketDirectory == "/run/postgresql")
        #expect(try PostgresURL("postgres://u@/d?host=db.internal").host == "db.internal")
        #expect(throws: PostgresURL.Invalid.self) { try PostgresURL("postgres://u@/d") }
    }
}
