@testable import Chassis
import ChassisTesting
import Foundation
import NIOCore
import Testing

@Suite("JetStream pull feed", .enabled(if: TestServers.natsURL != nil || TestServers.required,
                                        "needs MSA_TEST_NATS (scripts/infra.sh start nats)"))
struct PullFeedTests {
    /// A feed's open request expires again and again while nothing is published; the feed
    /// replaces it each time, so an event published long after still arrives at once.
    @Test func aFeedOutlivesTheExpiryOfItsRequests() async throws {
        try await withJetStreamBus(partitions: 1) { bus in
            let stream = "MSA_\(bus.system.uppercased())"
            try await bus.jetStream.api("CONSUMER.DURABLE.CREATE.\(stream).feed", [
                "stream_name": .string(stream),
                "config": ["durable_name": "feed", "ack_policy": "all", "deliver_policy": "all"],
            ])
            let feed = try await PullFeed.start(bus.jetStream, stream: stream, consumer: "feed", window: 4, expires: .milliseconds(200))
            defer { feed.close() }
            #expect(try await feed.take(limit: 10, wait: .seconds(1)).isEmpty)
            // More events than the window, so the feed must also ask again after a full one.
            for n in 1...6 { try await bus.publish([sampleEnvelope(key: "k", seq: n)]) }
            var received: [NATSMessage] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while received.count < 6 && ContinuousClock.now < deadline {
                received += try await feed.take(limit: 10, wait: .seconds(1))
            }
            #expect(received.count == 6)
            #expect(received.compactMap(JetStream.streamSequence) == Array(1...6))
        }
    }

    /// A delivery that never arrives (sent just before the node holding the pull request
    /// died, or while the connection was being replaced) shows as a gap in the consumer's
    /// delivery sequence: the bus starts the consumer again from the committed position and
    /// the event comes. Before, the next delivery was taken in and acknowledged (ack policy
    /// `all`), which acknowledged the missing one unseen: lend lost two events when the
    /// stream's leader was killed (`killingTheStreamLeaderLosesAndDoublesNothing`).
    @Test func aDeliveryThatNeverArrivesIsDeliveredAgain() async throws {
        try await withJetStreamBus(partitions: 1) { bus in
            for n in 1...3 { try await bus.publish([sampleEnvelope(key: "k", seq: n)]) }
            let first = try await bus.fetch(group: "g", partition: 0, after: 0, limit: 1, wait: .zero)
            #expect(first.map(\.position) == [1])
            // Another pull takes delivery 2 away, as a dead node or a dropped connection would.
            let stolen = try await bus.jetStream.pull(stream: "MSA_\(bus.system.uppercased())", consumer: "g-p0", batch: 1, expires: .zero)
            #expect(stolen.compactMap(JetStream.streamSequence) == [2])

            var seen: [Int64] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while seen.count < 2 && ContinuousClock.now < deadline {
                seen += try await bus.fetch(group: "g", partition: 0, after: seen.last ?? 1, limit: 10, wait: .zero).map(\.position)
            }
            #expect(seen == [2, 3], "event 2 was skipped")
        }
    }

    /// Two takes waiting on one feed at once (two members of a group in one process share
    /// the bus, and so the feed) both end: a second waiter replaced the first, whose task
    /// then waited for ever ("SWIFT TASK CONTINUATION MISUSE … leaked its continuation").
    @Test func twoTakesWaitingAtOnceBothEnd() async throws {
        try await withJetStreamBus(partitions: 1) { bus in
            let stream = "MSA_\(bus.system.uppercased())"
            try await bus.jetStream.api("CONSUMER.DURABLE.CREATE.\(stream).shared", [
                "stream_name": .string(stream),
                "config": ["durable_name": "shared", "ack_policy": "all", "deliver_policy": "all"],
            ])
            let feed = try await PullFeed.start(bus.jetStream, stream: stream, consumer: "shared", window: 4, expires: .seconds(5))
            defer { feed.close() }
            let first = Task { try await feed.take(limit: 10, wait: .seconds(5)) }
            let second = Task { try await feed.take(limit: 10, wait: .seconds(5)) }
            try await eventually("both takes waiting") { feed.waitingTakes == 2 }
            try await bus.publish([sampleEnvelope(key: "k", seq: 1)])
            // A leaked take never ends, not even at its own deadline.
            let ended = try await LoopTimer.withTimeout(.seconds(20)) { try await first.value.count + second.value.count }
            #expect(ended == 1, "a take never ended")
        }
    }

    /// A message handed back with NAK is delivered again, the next after it only later.
    @Test func aNakedMessageIsDeliveredAgain() async throws {
        try await withJetStreamBus(partitions: 1) { bus in
            let stream = "MSA_\(bus.system.uppercased())"
            try await bus.jetStream.api("CONSUMER.DURABLE.CREATE.\(stream).naks", [
                "stream_name": .string(stream),
                "config": ["durable_name": "naks", "ack_policy": "explicit", "deliver_policy": "all", "max_ack_pending": 1],
            ])
            for n in 1...2 { try await bus.publish([sampleEnvelope(key: "k", seq: n)]) }
            let first = try await bus.jetStream.pull(stream: stream, consumer: "naks", batch: 1, expires: .seconds(2))
            #expect(first.compactMap(JetStream.streamSequence) == [1])
            try await bus.jetStream.nak(first[0])
            let again = try await bus.jetStream.pull(stream: stream, consumer: "naks", batch: 1, expires: .seconds(2))
            #expect(again.compactMap(JetStream.streamSequence) == [1], "the naked message comes back first")
            try await bus.jetStream.ack(again[0])
            let next = try await bus.jetStream.pull(stream: stream, consumer: "naks", batch: 1, expires: .seconds(2))
            #expect(next.compactMap(JetStream.streamSequence) == [2])
        }
    }
}
