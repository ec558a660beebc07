import Chassis
import ChassisTesting
import Foundation
import Rental
import Testing

/// The systems in production mode (`msa up <system> --store postgres://… --bus nats://…`): the
/// seed scenarios on PostgreSQL and NATS JetStream, the polyglot split, and (Rental) a database
/// restart under the running system.
@Suite("Systems on PostgreSQL (real processes)", .serialized, .enabled(if: TestServers.postgresURL != nil || TestServers.required,
                                                         "needs PostgreSQL (scripts/infra.sh)"))
struct ProductionModeTests {
    @Test func theSeedScenarioPassesOnPostgreSQLAndJetStreamWithMyPageOnItsOwnSQLite() async throws {
        try await expectScenarioInProductionMode("rental", steps: 7, services: ["reserve", "lend", "payment", "promotion", "notification"])
    }

    @Test func theGameRewardSeedScenarioPassesOnPostgreSQLAndJetStreamWithMyPageOnItsOwnSQLite() async throws {
        try await expectScenarioInProductionMode("gamereward", steps: 5, services: ["mission", "reward", "wallet", "gift"])
    }

    @Test func theVaccineSeedScenarioPassesOnPostgreSQLAndJetStreamWithTheDashboardOnItsOwnSQLite() async throws {
        try await expectScenarioInProductionMode("vaccine", steps: 8, services: ["user", "reservation", "hospital", "stock"], embedded: "dashboard")
    }

    @Test func theCafeSeedScenarioPassesOnPostgreSQLAndJetStreamWithTheDeliveryCenterOnItsOwnSQLite() async throws {
        try await expectScenarioInProductionMode("cafe", steps: 5, services: ["order", "payment", "drink", "delivery"], embedded: "deliverycenter")
    }

    @Test func theShopSeedScenarioPassesOnPostgreSQLAndJetStreamWithMarketingOnItsOwnSQLite() async throws {
        try await expectScenarioInProductionMode("shop", steps: 6, services: ["order", "productdelivery"], embedded: "marketing")
    }

    /// Runs `system`'s seed scenario on a fresh PostgreSQL database and a private
    /// JetStream, and checks the polyglot split: the `embedded` view keeps its SQLite file,
    /// `services` use their PostgreSQL schemas, and every process uses JetStream.
    func expectScenarioInProductionMode(_ name: String, steps: Int, services: [String], embedded: String = "mypage",
                                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await withPostgresDatabase { url in
          try await PrivateNATS.with { nats in
            try await RunningSystem.with(name, arguments: ["--store", url, "--bus", nats.url]) { system in
                let run = try await system.msa(["scenario", name])
                #expect(run.status == 0, "\(run.output)", sourceLocation: sourceLocation)
                #expect(run.output.contains("\(name) scenario: all \(steps) steps passed"), "\(run.output)", sourceLocation: sourceLocation)
                let files = try FileManager.default.contentsOfDirectory(atPath: system.data + "/" + name)
                #expect(files.contains("\(embedded).sqlite"), "\(files)", sourceLocation: sourceLocation)
                #expect(!files.contains { file in services.contains { file.hasPrefix("\($0).sqlite") } }, "\(files)", sourceLocation: sourceLocation)
                let log = try String(contentsOfFile: system.log, encoding: .utf8)
                for service in services {
                    #expect(log.contains("store=postgres") && log.contains("schema \(name)_\(service)"), "\(service) not on PostgreSQL",
                            sourceLocation: sourceLocation)
                }
                #expect(!files.contains("bus.sqlite"), "events go through JetStream, not the embedded log: \(files)", sourceLocation: sourceLocation)
                let lines = log.split(separator: "\n")
                for service in services + [embedded] {
                    #expect(lines.contains { $0.hasPrefix(service) && $0.contains("bus=jetstream") }, "\(service) not on JetStream",
                            sourceLocation: sourceLocation)
                }
            }
          }
        }
    }

    /// The database stops under a running system: the services that use it turn not
    /// ready and refuse with 503 (nothing half-done), mypage on SQLite keeps answering;
    /// when the database is back they recover by themselves — no process restarts.
    @Test func aDatabaseRestartMakesServicesNotReadyThenTheyRecoverWithoutRestarting() async throws {
        try await PrivatePostgres.with { server in
            try await RunningSystem.with("rental", arguments: ["--store", server.url]) { system in
                let api = system.gateway
                let before = try await request(3, customer: "before-outage", via: api)
                let reserveHealth = Web(base: "http://127.0.0.1:\(system.basePort + 1)")
                try await eventually("mypage shows the requests made before the outage") {
                    try await api.get("/mypages/\(before.last!)").status == 200
                }

                try await server.halt()
                try await eventually("reserve reports not ready", timeout: .seconds(30)) {
                    try await reserveHealth.get("/actuator/health/readiness").status == 503
                }
                let refused = try await api.post("/reserves", RentalSeed.request(customer: "during-outage"))
                #expect(refused.status == 503 && refused.headers["retry-after"] != nil && refused.body?["error"] != nil,
                        "\(refused.status) \(refused.text)")
                #expect(try await api.get("/mypages/\(before[0])").status == 200, "mypage, on SQLite, keeps answering")

                try await server.restart()
                try await eventually("reserve ready again", timeout: .seconds(60)) {
                    try await reserveHealth.get("/actuator/health/readiness").status == 200
                }
                let after = try await request(3, customer: "after-outage", via: api)
                try await eventually("mypage shows the requests made after the outage", timeout: .seconds(30)) {
                    try await api.get("/mypages/\(after.last!)").status == 200
                }
                let reserves = try await api.get("/reserves?size=100").body?["page"]?["totalElements"]?.int64Value
                #expect(reserves == 6, "6 requests were paid, and the refused one left nothing: \(String(describing: reserves))")
                let processes = try await system.msa(["ps", "rental"]).output
                #expect(processes.split(separator: "\n").filter { $0.hasSuffix(" 0") }.count == 7,
                        "no process restarted: \(processes)\n\(system.logText().split(separator: "\n").filter { $0.contains("exited") || $0.contains("rror:") || $0.contains("atal") }.suffix(30).joined(separator: "\n"))")
            }
        }
    }
}
