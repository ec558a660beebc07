import Foundation
import Hummingbird
import Synchronization

/// Liveness and readiness as Spring Boot's actuator reports them.
///
/// Live while the process serves HTTP. Ready only when the store and the bus answer, the
/// service's one-off start jobs (``ServiceDefinition/Job/once(_:)``) are done, and it is not
/// draining; from the moment graceful shutdown begins it reports `OUT_OF_SERVICE`, so a
/// load balancer stops sending before the listener closes.
public final class Health: Sendable {
    let store: any Store
    let bus: any EventBus
    private let draining = Mutex(false)
    /// Start jobs not done yet.
    private let starting: Mutex<Int>

    /// `startJobs`: the service's one-off start jobs, each reported done by ``started()``.
    public init(store: any Store, bus: any EventBus, startJobs: Int = 0) {
        self.store = store
        self.bus = bus
        starting = Mutex(startJobs)
    }

    public func beginDraining() { draining.withLock { $0 = true } }
    public var isDraining: Bool { draining.withLock { $0 } }

    func started() { starting.withLock { $0 -= 1 } }

    func components() async -> [String: JSONValue] {
        func status(_ check: () async throws -> Void) async -> JSONValue {
            do { try await check(); return ["status": "UP"] } catch { return ["status": "DOWN", "error": .string("\(error)")] }
        }
        var components = ["store": await status { try await store.ping() }, "bus": await status { try await bus.ping() }]
        let pending = starting.withLock { $0 }
        if pending > 0 { components["start"] = ["status": "DOWN", "pending": .number(Double(pending))] }
        return components
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("actuator/health") { _, _ in try await self.report(includeComponents: true) }
        router.get("actuator/health/readiness") { _, _ in try await self.report(includeComponents: false) }
        router.get("actuator/health/liveness") { _, _ in try JSONResponse.make(.ok, ["status": "UP"]) }
    }

    private func report(includeComponents: Bool) async throws -> Response {
        let components = await components()
        let up = !isDraining && components.values.allSatisfy { $0["status"] == "UP" }
        var body: JSONValue = ["status": .string(up ? "UP" : (isDraining ? "OUT_OF_SERVICE" : "DOWN"))]
        if includeComponents { body["components"] = .object(components) }
        return try JSONResponse.make(up ? .ok : .serviceUnavailable, body)
    }
}
