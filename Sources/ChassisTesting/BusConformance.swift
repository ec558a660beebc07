import Chassis
import Foundation

/// The behaviour every ``EventBus`` implementation must show, as cases a test target runs
/// against a fresh, empty bus of that implementation with at least two partitions (four
/// is a good size):
///
/// ```swift
/// @Test(arguments: BusConformance.cases)
/// func jetStreamConforms(_ c: BusConformance.Case) async throws {
///     try await c.run(makeEmptyJetStreamBus(partitions: 4))
/// }
/// ```
///
/// The cases do not assume which hash picks a partition: they find where events landed by
/// reading every partition. Lease cases use a short TTL (300 ms) and wait for expiry with
/// a deadline, so a slow machine makes them slower, not flaky.
public struct BusConformance {
    public struct Case: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any EventBus) async throws -> Void

        public init(_ name: String, run: @escaping @Sendable (any EventBus) async throws -> Void) {
            self.name = name
            self.run = run
        }

        public var description: String { name }
    }

    public static let cases: [Case] = [
        Case("fetch returns a partition's events in publish order with increasing positions") { try await publishThenFetch($0) },
        Case("a republished envelope id is dropped, not duplicated") { try await republishedIdDropped($0) },
        Case("events with one key land in one partition, in publish order") { try await oneKeyOnePartition($0) },
        Case("a waiting fetch returns early when an event arrives") { try await waitingFetchWakes($0) },
        Case("a waiting fetch answers empty after its wait") { try await waitingFetchTimesOut($0) },
        Case("a single member holds every partition") { try await singleMemberHoldsAll($0) },
        Case("two members converge to a fair, disjoint, covering split") { try await twoMembersSplit($0) },
        Case("a member that stops renewing loses its partitions after the ttl") { try await expiredLeasesMove($0) },
        Case("live leases are respected, and leave frees them at once") { try await leaveFreesAtOnce($0) },
        Case("a slot's next incarnation takes its predecessor's live leases at once") { try await nextIncarnationTakesOver($0) },
        Case("acknowledgements reduce a group's lag and never move back") { try await acknowledgeAndLag($0) },
    ]
}

// MARK: Publishing and fetching

extension BusConformance {
    static func publishThenFetch(_ bus: any EventBus) async throws {
        try await bus.ping()
        try check(bus.partitionCount >= 2, "the conformance suite needs a bus of at least 2 partitions; got \(bus.partitionCount)")
        let keys = (0..<8).map { "order-\($0)" }
        let first = (1...3).flatMap { seq in keys.map { sampleEnvelope(key: $0, seq: seq, traceparent: TraceContext.newTraceparent()) } }
        let second = keys.map { sampleEnvelope(key: $0, seq: 4) }
        try await bus.publish(first)
        try await bus.publish(second)
        let published = first + second

        let log = try await readAll(bus)
        let everything = log.values.flatMap { $0 }
        try check(everything.count == published.count, "the log holds \(everything.count) events, \(published.count) were published")
        for (partition, records) in log {
            let positions = records.map(\.position)
            try check(positions.first.map { $0 > 0 } ?? true && zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 },
                      "positions of partition \(partition) must be positive and increasing: \(positions)")
            let expected = published.filter { envelope in records.contains { $0.envelope.id == envelope.id } }
            try check(records.count == expected.count && zip(records, expected).allSatisfy { sameEnvelope($0.envelope, $1) },
                      "partition \(partition) holds \(records.map { $0.envelope.key }) out of publish order or altered")
        }

        guard let (partition, records) = log.first(where: { $0.value.count >= 3 }) else {
            throw ConformanceFailure("no partition received 3 events of 32 on 8 keys")
        }
        let tail = try await bus.fetch(group: "g", partition: partition, after: records[0].position, limit: 1000, wait: .zero)
        try check(tail.map(\.position) == records.dropFirst().map(\.position), "fetch after a position returns exactly the later events")
        let page = try await bus.fetch(group: "g", partition: partition, after: 0, limit: 2, wait: .zero)
        try check(page.map(\.position) == records.prefix(2).map(\.position), "fetch honours its limit, oldest first")
        let end = try await bus.fetch(group: "g", partition: partition, after: records.last!.position, limit: 10, wait: .zero)
        try check(end.isEmpty, "fetch after the last position returns nothing")
    }

    static func republishedIdDropped(_ bus: any EventBus) async throws {
        let a = sampleEnvelope(key: "a"), b = sampleEnvelope(key: "b"), c = sampleEnvelope(key: "c")
        try await bus.publish([a, b])
        let before = try await readAll(bus).values.flatMap { $0 }
        try await bus.publish([a, c])
        try await bus.publish([b])

        let after = try await readAll(bus).values.flatMap { $0 }
        let ids = after.map(\.envelope.id)
        try check(ids.sorted() == [a.id, b.id, c.id].sorted(), "after republishing a and b the log holds \(after.map(\.envelope.key))")
        let position = { (records: [BusRecord], id: String) in records.first { $0.envelope.id == id }?.position }
        try check(position(before, a.id) == position(after, a.id), "a republished event keeps its first position")
    }

    static func oneKeyOnePartition(_ bus: any EventBus) async throws {
        let others = (0..<16).map { "other-\($0)" }
        var envelopes: [EventEnvelope] = []
        for seq in 1...20 {
            envelopes.append(sampleEnvelope(key: "order-7", seq: seq))
            envelopes.append(sampleEnvelope(key: others[seq % others.count], seq: seq))
        }
        try await bus.publish(Array(envelopes[..<20]))
        try await bus.publish(Array(envelopes[20...]))

        let log = try await readAll(bus)
        let holding = log.filter { $0.value.contains { $0.envelope.key == "order-7" } }
        try check(holding.count == 1, "events of key order-7 landed in partitions \(holding.keys.sorted()), expected one")
        let seqs = try holding.first!.value.filter { $0.envelope.key == "order-7" }.map { try $0.envelope.decode(SampleEvent.self).seq }
        try check(seqs == Array(1...20), "events of order-7 came back as \(seqs), expected 1…20 in publish order")
        try check(log.filter { !$0.value.isEmpty }.count > 1, "17 distinct keys all landed in one partition: keys must spread")
    }

    static func waitingFetchWakes(_ bus: any EventBus) async throws {
        let first = sampleEnvelope(key: "k", seq: 1)
        try await bus.publish([first])
        guard let (partition, records) = try await readAll(bus).first(where: { !$0.value.isEmpty }) else {
            throw ConformanceFailure("a published event is in no partition")
        }
        let started = ContinuousClock.now
        let fetch = Task {
            try await bus.fetch(group: "g", partition: partition, after: records[0].position, limit: 10, wait: .seconds(20))
        }
        try await Task.sleep(for: .milliseconds(50))  // Let the fetch start waiting; correct either way.
        let second = sampleEnvelope(key: "k", seq: 2)
        try await bus.publish([second])
        let fetched = try await fetch.value
        let elapsed = ContinuousClock.now - started
        try check(fetched.map(\.envelope.id) == [second.id], "the waiting fetch returned \(fetched.map(\.envelope.id)), expected the new event")
        try check(elapsed < .seconds(5), "the waiting fetch returned \(elapsed) after it started; expected soon after the publish")
    }

    static func waitingFetchTimesOut(_ bus: any EventBus) async throws {
        let started = ContinuousClock.now
        let fetched = try await bus.fetch(group: "g", partition: 0, after: 0, limit: 10, wait: .milliseconds(200))
        let elapsed = ContinuousClock.now - started
        try check(fetched.isEmpty, "a fetch of an empty partition returned \(fetched.count) events")
        try check(elapsed >= .milliseconds(150), "a fetch with a 200 ms wait gave up after \(elapsed): consumers would spin")
        try check(elapsed < .seconds(5), "a fetch with a 200 ms wait returned only after \(elapsed)")
        let immediate = try await bus.fetch(group: "g", partition: 0, after: 0, limit: 10, wait: .zero)
        try check(immediate.isEmpty, "a fetch without wait of an empty partition returns empty")
    }
}

// MARK: Leases

extension BusConformance {
    static func singleMemberHoldsAll(_ bus: any EventBus) async throws {
        let all = Set(0..<bus.partitionCount)
        let held = try await bus.balance(group: "g", member: "a", ttl: .seconds(30))
        try check(held == all, "a lone member holds \(held.sorted()), expected all of \(all.sorted())")
        let renewed = try await bus.balance(group: "g", member: "a", ttl: .seconds(30))
        try check(renewed == all, "renewing keeps every partition; holds \(renewed.sorted())")
        let otherGroup = try await bus.balance(group: "h", member: "b", ttl: .seconds(30))
        try check(otherGroup == all, "groups lease independently: the lone member of h holds \(otherGroup.sorted())")
    }

    static func twoMembersSplit(_ bus: any EventBus) async throws {
        let all = Set(0..<bus.partitionCount)
        var a: Set<Int> = [], b: Set<Int> = []
        for _ in 0..<6 {
            a = try await bus.balance(group: "g", member: "a", ttl: .seconds(30))
            b = try await bus.balance(group: "g", member: "b", ttl: .seconds(30))
            if fairSplit(a, b, of: all) { break }
        }
        try check(fairSplit(a, b, of: all), "after 6 rounds a holds \(a.sorted()) and b holds \(b.sorted()); expected a fair split of \(all.sorted())")
        let (a2, b2) = (try await bus.balance(group: "g", member: "a", ttl: .seconds(30)),
                        try await bus.balance(group: "g", member: "b", ttl: .seconds(30)))
        try check(a2 == a && b2 == b, "a converged split must be stable; it moved to \(a2.sorted()) / \(b2.sorted())")
    }

    static func expiredLeasesMove(_ bus: any EventBus) async throws {
        let all = Set(0..<bus.partitionCount)
        let ttl = Duration.milliseconds(300)
        let granted = ContinuousClock.now
        let a = try await bus.balance(group: "g", member: "a", ttl: ttl)
        try check(a == all, "the first member holds \(a.sorted()), expected all")
        let b = try await bus.balance(group: "g", member: "b", ttl: .seconds(30))
        // On a loaded machine a's short lease may already have lapsed; only a live one must hold.
        if ContinuousClock.now - granted < ttl {
            try check(b.isDisjoint(with: a), "b took \(b.intersection(a).sorted()) while a's leases were live")
        }
        try await eventually("b holding every partition after a's leases expired", timeout: .seconds(10), poll: .milliseconds(50)) {
            try await bus.balance(group: "g", member: "b", ttl: .seconds(30)) == all
        }
    }

    static func leaveFreesAtOnce(_ bus: any EventBus) async throws {
        let all = Set(0..<bus.partitionCount)
        _ = try await bus.balance(group: "g", member: "a", ttl: .seconds(30))
        let before = try await bus.balance(group: "g", member: "b", ttl: .seconds(30))
        try check(before.isEmpty, "b took \(before.sorted()) while a held every partition on a live lease")
        try await bus.leave(group: "g", member: "a")
        let b = try await bus.balance(group: "g", member: "b", ttl: .seconds(30))
        try check(b == all, "after a left, b holds \(b.sorted()) at once, expected all")
    }

    static func nextIncarnationTakesOver(_ bus: any EventBus) async throws {
        let all = Set(0..<bus.partitionCount)
        let now = Clock.millis()
        let first = GroupMember.id(slot: "w#1", startedAt: now), next = GroupMember.id(slot: "w#1", startedAt: now + 1)
        let other = GroupMember.id(slot: "w#2", startedAt: now)
        _ = try await bus.balance(group: "g", member: first, ttl: .seconds(30))
        let stranger = try await bus.balance(group: "g", member: other, ttl: .seconds(30))
        try check(stranger.isEmpty, "another slot took \(stranger.sorted()) of a live member's partitions")
        try await bus.leave(group: "g", member: other)
        let taken = try await bus.balance(group: "g", member: next, ttl: .seconds(30))
        try check(taken == all, "the next incarnation holds \(taken.sorted()) at once, expected all")
        let old = try await bus.balance(group: "g", member: first, ttl: .seconds(30))
        try check(old.isEmpty, "the earlier incarnation came back with \(old.sorted())")
        let still = try await bus.balance(group: "g", member: next, ttl: .seconds(30))
        try check(still == all, "the next incarnation lost \(all.subtracting(still).sorted()) to the earlier one")
    }

    /// Disjoint, covering every partition, and differing in size by at most one.
    static func fairSplit(_ a: Set<Int>, _ b: Set<Int>, of all: Set<Int>) -> Bool {
        a.isDisjoint(with: b) && a.union(b) == all && abs(a.count - b.count) <= 1
    }
}

// MARK: Acknowledgements

extension BusConformance {
    static func acknowledgeAndLag(_ bus: any EventBus) async throws {
        try await bus.publish((1...3).map { sampleEnvelope(key: "k", seq: $0) })
        guard let (partition, records) = try await readAll(bus).first(where: { !$0.value.isEmpty }) else {
            throw ConformanceFailure("a published event is in no partition")
        }
        func lag(_ group: String) async throws -> [Int] {
            let lag = try await bus.lag(group: group)
            return (0..<bus.partitionCount).map { Int(lag[$0] ?? 0) }
        }
        func expected(_ behind: Int) -> [Int] { (0..<bus.partitionCount).map { $0 == partition ? behind : 0 } }

        var seen = try await lag("g")
        try check(seen == expected(3), "before any acknowledgement lag is \(seen), expected \(expected(3))")
        try await bus.acknowledge(group: "g", partition: partition, through: records[1].position)
        seen = try await lag("g")
        try check(seen == expected(1), "after acknowledging 2 of 3 lag is \(seen), expected \(expected(1))")
        try await bus.acknowledge(group: "g", partition: partition, through: records[0].position)
        seen = try await lag("g")
        try check(seen == expected(1), "an older acknowledgement moved lag back to \(seen)")
        try await bus.acknowledge(group: "g", partition: partition, through: records[2].position)
        seen = try await lag("g")
        try check(seen == expected(0), "after acknowledging all, lag is \(seen)")
        seen = try await lag("h")
        try check(seen == expected(3), "lag is per group: h acknowledged nothing, yet its lag is \(seen)")
    }
}

// MARK: Helpers

extension BusConformance {
    /// Every partition's records from the start, keyed by partition.
    static func readAll(_ bus: any EventBus) async throws -> [Int: [BusRecord]] {
        var log: [Int: [BusRecord]] = [:]
        for partition in 0..<bus.partitionCount {
            log[partition] = try await bus.fetch(group: "reader", partition: partition, after: 0, limit: 10_000, wait: .zero)
        }
        return log
    }
}
