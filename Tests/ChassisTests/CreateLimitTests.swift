import Chassis
import ChassisTesting
import Synchronization
import Testing

/// A resource that admits only so many creates at once refuses the next at once, with
/// nothing written.
@Suite struct CreateLimitTests {
    struct Order: Entity, Equatable { static let collection = "orders"; var id: Int64?; var item: String }

    /// Holds every create until the test lets them go.
    final class Gate: Sendable {
        private let state = Mutex<(waiting: Int, open: Bool)>((0, false))
        var waiting: Int { state.withLock { $0.waiting } }
        func open() { state.withLock { $0.open = true } }
        func pass() async throws {
            state.withLock { $0.waiting += 1 }
            try await eventually("the gate opened") { self.state.withLock { $0.open } }
        }
    }

    @Test func theCreateBeyondTheLimitIsA503AtOnceAndWritesNothing() async throws {
        let gate = Gate()
        let service = ServiceDefinition(name: "shop") { router, runtime in
            Resource<Order>(store: runtime.store)
                .creating { body, store in
                    try await gate.pass()
                    return try await store.write { tx in try await tx.save(try JSON.decode(Order.self, from: body)) }
                }
                .admittingCreates(atMost: 3)
                .register(on: router)
        }
        try await withService(service, system: "test") { shop in
            async let held = concurrently(3) { _ in try await shop.post("/orders", ["item": "coffee"]) }
            try await eventually("three creates in flight") { gate.waiting == 3 }
            let refused = try await shop.expectRefusal(.post, "/orders", #"{"item":"tea"}"#, status: 503, saying: "3 orders are being taken already")
            #expect(refused.headers[.retryAfter] == "1")
            gate.open()
            #expect(try await held.map(\.status.code) == [201, 201, 201])
            #expect(try await shop.post("/orders", ["item": "tea"]).status == .created, "a slot is free again")
        }
    }
}
