import Chassis
import Testing

/// Which bus a service joins, from `MSA_BUS` and `MSA_BUS_REPLICAS`.
@Suite struct BusSelectionTests {
    func resolve(_ environment: [String: String]) throws -> BusSelection {
        try BusSelection.resolve(dataDirectory: "/data", environment: environment)
    }

    @Test func withoutConfigurationTheEmbeddedLogIsUsed() throws {
        #expect(try resolve([:]) == .sqlite(path: "/data/bus.sqlite"))
        #expect(try resolve(["MSA_BUS": "sqlite"]) == .sqlite(path: "/data/bus.sqlite"))
    }

    @Test func natsServersSelectJetStreamWithReplicasByClusterSize() throws {
        #expect(try resolve(["MSA_BUS": "nats://a:4222"]) == .jetStream(servers: ["nats://a:4222"], replicas: 1))
        let three = "nats://a:4222, nats://b:4222,nats://c:4222"
        #expect(try resolve(["MSA_BUS": three]) == .jetStream(servers: ["nats://a:4222", "nats://b:4222", "nats://c:4222"], replicas: 3))
        #expect(try resolve(["MSA_BUS": three, "MSA_BUS_REPLICAS": "1"]) == .jetStream(
            servers: ["nats://a:4222", "nats://b:4222", "nats://c:4222"], replicas: 1))
    }

    @Test func anythingElseIsRefusedNamingTheSetting() {
        for bad in [["MSA_BUS": "kafka://x:9092"], ["MSA_BUS": "nats://a:4222,b:4222"], ["MSA_BUS": "nats://a", "MSA_BUS_REPLICAS": "9"]] {
            let error = #expect(throws: NATSError.self, "\(bad)") { try resolve(bad) }
            #expect(error?.description.contains("MSA_BUS") == true)
        }
    }
}
