import Chassis
import ChassisTesting
import Testing

/// The transactional outbox end to end: transactions enqueue, the relay publishes.
@Suite struct OutboxRelayTests {
    func relay(_ rig: Rig) -> OutboxRelay {
        OutboxRelay(store: rig.store, bus: rig.log, batchSize: 4, idleInterval: .milliseconds(20), logger: quietLogger)
    }

    /// The labels of the sample events in the log, in log order.
    func loggedLabels(_ rig: Rig) async throws -> [String] {
        try await rig.logged().map { try $0.envelope.decode(SampleEvent.self).label }
    }

    @Test(arguments: Rig.backends) func committedEventsArePublishedInCommitOrder(_ backend: Rig.Backend) async throws {
        try await withRig(backend) { rig in
            rig.start(relay(rig))
            var committed: [SampleEvent] = []
            for seq in 1...6 {
                let events = [SampleEvent(key: "order-\(seq % 3)", seq: seq), SampleEvent(key: "audit", seq: seq)]
                try await rig.store.write { try await $0.publish(events) }
                committed += events
            }
            try await eventually("every committed event published") { try await rig.logged().count == committed.count }

            #expect(try await loggedLabels(rig) == committed.map(\.label))
            #expect(try await rig.logged().allSatisfy { $0.envelope.source == "tallier" })
            // The relay marks a batch published just after the bus took it.
            try await eventually("every published event marked") { try await rig.store.outboxBacklog() == 0 }
        }
    }

    @Test(arguments: Rig.backends) func aRolledBackTransactionPublishesNothing(_ backend: Rig.Backend) async throws {
        try await withRig(backend) { rig in
            rig.start(relay(rig))
            await #expect(throws: Refusal.self) {
                try await rig.store.write { tx in
                    try await tx.publish(SampleEvent(key: "doomed", seq: 1))
                    throw Refusal.conflict("the command was refused after raising its event")
                }
            }
            try await rig.store.write { try await $0.publish(SampleEvent(key: "kept", seq: 1)) }
            // The relay publishes in commit order, so once `kept` is out, anything before it would be too.
            try await eventually("the committed event published") { try await rig.logged().count >= 1 }

            #expect(try await loggedLabels(rig) == ["kept#1"])
            try await eventually("the published event marked") { try await rig.store.outboxBacklog() == 0 }
        }
    }

    @Test(arguments: Rig.backends) func aRelayRestartedAfterPublishingButBeforeMarkingDuplicatesNothing(_ backend: Rig.Backend) async throws {
        try await withRig(backend) { rig in
            let events = (1...3).map { SampleEvent(key: "order-\($0)", seq: $0) }
            try await rig.store.write { try await $0.publish(Array(events[..<2])) }
            try await rig.store.write { try await $0.publish(events[2]) }
            // The crashed relay got this far: the bus has the events, the outbox does not know.
            let pending = try await rig.store.pendingOutbox(limit: 10)
            try await rig.log.publish(pending.map(\.envelope))
            #expect(try await rig.store.outboxBacklog() == 3)

            let relayed = try await relay(rig).relayOnce()

            #expect(relayed == 3)
            #expect(try await rig.store.outboxBacklog() == 0)
            #expect(try await loggedLabels(rig) == events.map(\.label))
        }
    }
}
