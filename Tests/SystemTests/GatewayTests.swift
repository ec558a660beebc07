import AsyncHTTPClient
import Chassis
import ChassisTesting
import Foundation
import Gateway
import Testing

/// The gateway in front of replicas, one of them down.
@Suite struct GatewayTests {
    /// A replica that refuses connections costs a request nothing: it goes on to the next
    /// one at once, not after the connect timeout (10 s here; 20 requests would take 100 s
    /// if half of them waited for it).
    @Test func aReplicaThatIsDownIsSkippedAtOnce() async throws {
        let dead = try await closedPort()
        let router = Router()
        router.get("things") { _, _ in try JSONResponse.make(.ok, ["things": .array([])]) }
        try await withLiveServer(router) { live in
            let client = Gateway.makeClient(connect: .seconds(10))
            let gateway = Gateway(routes: [.init(prefix: "/things", service: "things",
                                                 replicas: ["http://127.0.0.1:\(dead)", "http://127.0.0.1:\(live)"])], client: client)
            try await withLiveServer(gateway.router()) { port in
                let started = ContinuousClock.now
                for _ in 0..<20 {
                    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/things"), timeout: .seconds(60))
                    #expect(response.status.code == 200)
                    _ = try await response.body.collect(upTo: 1 << 16)
                }
                #expect(ContinuousClock.now - started < .seconds(8), "no request waited for the dead replica's 10 s connect timeout")
            }
            try await client.shutdown()
        }
    }
}
