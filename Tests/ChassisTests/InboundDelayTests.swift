import Chassis
import ChassisTesting
import Foundation
import Testing

/// `<SERVICE>_DELAY_MS`: the seeds' slowed neighbour, as a chassis setting of any service.
@Suite struct InboundDelayTests {
    /// A service with one route of its own.
    static let slow = ServiceDefinition(name: "slow") { router, _ in
        router.get("things") { _, _ in try JSONResponse.make(.ok, ["things": .array([])]) }
    }

    @Test func theDelayHoldsTheServicesOwnRoutes() async throws {
        try await withService(Self.slow, system: "test", environment: ["SLOW_DELAY_MS": "200-250"]) { service in
            let started = ContinuousClock.now
            let reply = try await service.get("/things")
            #expect(reply.status == .ok)
            #expect(ContinuousClock.now - started >= .milliseconds(200))
        }
    }

    /// Probes and scrapes of a slowed service answer at once: a delay of a minute would
    /// hold each of them past the bound below.
    @Test func healthAndMetricsAreNotDelayed() async throws {
        try await withService(Self.slow, system: "test", environment: ["SLOW_DELAY_MS": "60000"]) { service in
            let started = ContinuousClock.now
            for path in ["/actuator/health/liveness", "/actuator/health/readiness", "/metrics", "/admin/dead-letters"] {
                let response = try await service.client.execute(uri: path, method: .get, headers: [:], body: nil)
                #expect(response.status == .ok, "\(path)")
            }
            #expect(ContinuousClock.now - started < .seconds(30))
        }
    }

    @Test(arguments: [("0", nil), ("", nil), ("500", 500...500), ("400-620", 400...620), (" 5 - 9 ", 5...9), ("0-0", nil)] as [(String, ClosedRange<Int>?)])
    func aSettingIsMillisecondsOrARange(_ text: String, _ expected: ClosedRange<Int>?) throws {
        let delay = try InboundDelay(text.isEmpty ? "0" : text, setting: "SLOW_DELAY_MS")
        #expect(delay?.milliseconds == expected)
    }

    @Test(arguments: ["abc", "-5", "620-400", "1-2-3", "400-", "1.5"])
    func aMalformedSettingStopsTheServiceWithItsName(_ text: String) async throws {
        let error = await #expect(throws: InboundDelay.Invalid.self) {
            try await withService(Self.slow, system: "test", environment: ["SLOW_DELAY_MS": text]) { _ in }
        }
        #expect(error?.description.hasPrefix("SLOW_DELAY_MS must be milliseconds") == true)
    }
}

/// Which requests an internal route covers.
@Suite struct InternalRouteTests {
    @Test func aRouteMatchesItsMethodAndPathWithParameters() {
        let void = InternalRoute.post("/payments/:id/void")
        #expect(void.matches(.post, path: "/payments/7/void"))
        #expect(void.matches(.post, path: "/payments/7/void/"))
        #expect(!void.matches(.get, path: "/payments/7/void"))
        #expect(!void.matches(.post, path: "/payments/7"))
        #expect(!void.matches(.post, path: "/payments/7/void/again"))
        #expect(InternalRoute.post("payments").matches(.post, path: "/payments"))
        #expect(!InternalRoute.post("/payments").matches(.post, path: "/promotions"))
    }
}
