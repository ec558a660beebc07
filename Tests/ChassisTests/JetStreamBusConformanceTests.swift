import ChassisTesting
import Testing

@Suite("JetStreamBus conformance", .enabled(if: TestServers.natsURL != nil || TestServers.required,
                                            "needs nats-server (scripts/infra.sh start nats)"))
struct JetStreamBusConformanceTests {
    @Test(arguments: BusConformance.cases)
    func jetStreamBusConforms(_ c: BusConformance.Case) async throws {
        try await withJetStreamBus(partitions: 4) { bus in try await c.run(bus) }
    }
}
