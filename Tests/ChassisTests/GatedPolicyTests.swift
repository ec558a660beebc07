import Chassis
import ChassisTesting
import Foundation
import Hummingbird
import Testing

/// A gated policy: "whenever an order is accepted, hold it at the ledger until the ledger
/// agrees, then start its delivery" — per-key order kept, other keys not held up, retried
/// while the ledger is away, parked after the retry limit when it refuses.
@Suite struct GatedPolicyTests {
    struct OrderAccepted: DomainEvent {
        var orderId: Int64
        var correlationKey: String { "order-\(orderId)" }
    }

    /// A plain event of the same key, handled by a plain policy.
    struct OrderNoted: DomainEvent {
        var orderId: Int64
        var note: String
        var correlationKey: String { "order-\(orderId)" }
    }

    struct Delivery: Entity {
        static let collection = "deliveries"
        var id: Int64?
        var note: String?
    }

    /// What the gated policy's `request` writes when no call is needed.
    struct Skipped: Entity {
        static let collection = "skipped"
        var id: Int64?
    }

    static let hold = CallPort<GatedCallTests.Hold>("hold", to: "ledger", defaultURL: "",
                                                    call: { hold in try .post("/holds", hold) },
                                                    undo: { hold in .post("/holds/\(hold.key)/release") })

    /// Orders above 100 need no hold: `request` records them as skipped instead.
    static let policies = Policies()
        .on(OrderAccepted.self, calling: hold) { event, tx in
            guard event.orderId <= 100 else {
                try await tx.save(Skipped(id: event.orderId))
                return nil
            }
            return GatedCallTests.Hold(key: event.orderId)
        } then: { event, _, _, tx in
            try await tx.save(Delivery(id: event.orderId))
        }
        .on(OrderNoted.self) { event, tx in
            // Writes only onto a started delivery: run before the gated step, it would find none.
            let delivery = try await tx.get(Delivery.self, id: event.orderId) ?? Delivery(id: event.orderId)
            try await tx.save(Delivery(id: delivery.id, note: event.note))
        }

    @Test(arguments: Rig.backends) func theChangeCommitsOnlyOnceTheTargetAgreed(_ backend: Rig.Backend) async throws {
        try await withOrders(backend) { rig, ledger in
            try await rig.deliver(OrderAccepted(orderId: 1), from: "order")
            #expect(try await rig.store.get(Delivery.self, id: 1) == nil, "queued, not yet called")
            #expect(ledger.holds.isEmpty)

            try await rig.host.runQueuedEvents()

            #expect(ledger.holds == [1])
            #expect(try await rig.store.get(Delivery.self, id: 1) != nil)
            #expect(try await rig.store.count("queuedEvents", matching: []) == 0)
            #expect(try await rig.store.count("pendingCalls", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func aKeysLaterEventsWaitBehindItWhileOtherKeysGoOn(_ backend: Rig.Backend) async throws {
        try await withOrders(backend, ledger: Ledger(.failing)) { rig, ledger in
            try await rig.deliver(OrderAccepted(orderId: 1), from: "order")
            try await rig.deliver(OrderNoted(orderId: 1, note: "fragile"), from: "order")
            try await rig.deliver(OrderNoted(orderId: 2, note: "other key"), from: "order")

            #expect(try await rig.store.get(Delivery.self, id: 2)?.note == "other key", "another key is not held up")
            try await rig.host.runQueuedEvents()
            #expect(try await rig.store.get(Delivery.self, id: 1) == nil, "the ledger is failing: nothing yet, in order")

            ledger.behave(.accepting)
            let sent = ledger.requests
            try await rig.host.runQueuedEvents()
            #expect(ledger.requests == sent, "the failed attempt is not undone yet: the next one is not sent")
            #expect(ledger.releases.isEmpty)
            try await eventually("the queue of order 1 done") {
                // The failed attempt's outcome was unknown: it is undone before the next is sent.
                try await rig.host.undoPendingCalls()
                try await rig.host.runQueuedEvents()
                return try await rig.store.count("queuedEvents", matching: []) == 0
            }
            #expect(try await rig.store.get(Delivery.self, id: 1)?.note == "fragile", "the note came after the delivery it notes")
            #expect(ledger.releases == [1], "the failed attempt was undone before the one that succeeded")
            #expect(try await rig.store.deadLetters(limit: 10).isEmpty, "unavailability is retried, never parked")
        }
    }

    @Test(arguments: Rig.backends) func aCallTheTargetRefusesIsParkedAfterTheRetryLimitAndTheKeyGoesOn(_ backend: Rig.Backend) async throws {
        try await withOrders(backend, ledger: Ledger(.refusing)) { rig, ledger in
            try await rig.deliver(OrderAccepted(orderId: 1), from: "order")
            try await rig.deliver(OrderNoted(orderId: 1, note: "after"), from: "order")

            for _ in 0..<ConsumerSettings().maxAttempts { try await rig.host.runQueuedEvents(asOf: Clock.millis() + 3_600_000) }
            #expect(ledger.holds.count == ConsumerSettings().maxAttempts, "one call per attempt")

            let parked = try await rig.store.deadLetters(limit: 10)
            #expect(parked.map(\.envelope.type) == ["OrderAccepted"])
            #expect(parked.first?.error.contains("ledger refused") == true, "\(parked)")
            try await rig.host.runQueuedEvents()
            #expect(try await rig.store.get(Delivery.self, id: 1)?.note == "after", "the key's next event went on")

            ledger.behave(.accepting)
            let replay = try await rig.post("/admin/dead-letters/\(parked[0].id!)/replay", [:])
            #expect(replay.status == .ok)
            try await rig.host.runQueuedEvents()
            #expect(ledger.holds.count == ConsumerSettings().maxAttempts + 1, "the replayed event was queued again and called")
            #expect(try await rig.store.count("queuedEvents", matching: []) == 0)
        }
    }

    /// A target that admits one call at a time (its bulkhead): the queue runs one key at a
    /// time for it, so no event is turned away by its own service's bulkhead and backed off
    /// as if the target were down.
    @Test func aNarrowTargetsBulkheadBoundsHowManyKeysRunAtOnce() async throws {
        try await withOrders(.embedded, environment: ["LEDGER_MAX_CONCURRENT": "1"]) { rig, ledger in
            for order in 1...10 { try await rig.deliver(OrderAccepted(orderId: Int64(order)), from: "order") }
            try await rig.host.runQueuedEvents()
            #expect(ledger.holds.count == 10, "one round ran every key, one at a time: \(ledger.holds)")
            #expect(try await rig.store.count("queuedEvents", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func aPolicyThatNeedsNoCallCommitsWhatItDecided(_ backend: Rig.Backend) async throws {
        try await withOrders(backend) { rig, ledger in
            try await rig.deliver(OrderAccepted(orderId: 101), from: "order")
            try await rig.host.runQueuedEvents()

            #expect(ledger.requests == 0)
            #expect(try await rig.store.get(Skipped.self, id: 101) != nil)
            #expect(try await rig.store.count("queuedEvents", matching: []) == 0)
        }
    }
}

/// A service whose policies are ``GatedPolicyTests/policies``, on the router-harness rig
/// with the backend's store and bus, its ledger on a live port.
private func withOrders(_ backend: Rig.Backend, ledger: Ledger = Ledger(), environment extra: [String: String] = [:],
                        _ body: @Sendable (ServiceRig, Ledger) async throws -> Void) async throws {
    try await withLiveServer(ledger.router) { port in
        let definition = ServiceDefinition(name: "delivery", policies: GatedPolicyTests.policies) { _, _ in }
        let environment = ["LEDGER_URL": "http://127.0.0.1:\(port)", "LEDGER_RETRIES": "0", "LEDGER_TIMEOUT_MS": "5000"]
            .merging(extra) { _, given in given }
        try await withStoreAndBus(backend, service: "delivery") { store, bus in
            try await withService(definition, system: "orders", environment: environment, store: store, bus: bus) { rig in
                try await body(rig, ledger)
            }
        }
    }
}
