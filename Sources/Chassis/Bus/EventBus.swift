import Foundation

/// The log every service of a system publishes to and consumes from.
///
/// The log is split into ``partitionCount`` partitions by the hash of each event's
/// correlation key. A consumer group (one per service) reads each partition in order;
/// within a group a partition is leased to one member at a time, so replicas share the
/// work and no event of one key is handled by two replicas at once.
///
/// Every implementation (the embedded SQLite log, NATS JetStream) passes the same
/// conformance suite in `ChassisTesting`.
public protocol EventBus: Sendable {
    var partitionCount: Int { get }

    /// Appends `envelopes` durably, in order, before returning. An envelope whose id is
    /// already in the log is dropped, so a relay may re-publish after a crash.
    func publish(_ envelopes: [EventEnvelope]) async throws

    /// Up to `limit` events of `partition` after `position`, oldest first. When none is
    /// there yet, waits up to `wait` for one before answering empty.
    func fetch(group: String, partition: Int, after position: Int64, limit: Int, wait: Duration) async throws -> [BusRecord]

    /// Records that `group` handled `partition` through `position`: the input of lag
    /// metrics and retention (and the acknowledgement on engines that need one).
    func acknowledge(group: String, partition: Int, through position: Int64) async throws

    /// Heartbeats `member` in `group` and rebalances leases: the member keeps the
    /// partitions it holds, takes free or expired ones up to its fair share, and gives up
    /// what exceeds it. An earlier incarnation of `member`'s slot (``GroupMember``) is
    /// dropped first, and its partitions are free; a member superseded by a later
    /// incarnation of its own slot holds nothing. Returns the partitions `member` holds
    /// for the next `ttl`.
    func balance(group: String, member: String, ttl: Duration) async throws -> Set<Int>

    /// Gives up every lease of `member` at once (graceful shutdown).
    func leave(group: String, member: String) async throws

    /// Events of each partition not yet acknowledged by `group`.
    func lag(group: String) async throws -> [Int: Int64]

    /// Deletes events older than `age` that every group acknowledged; returns how many.
    /// Engines with their own retention (JetStream's max age) may return 0.
    func prune(olderThan age: Duration) async throws -> Int

    /// Succeeds when the bus answers; readiness probes call it.
    func ping() async throws
}

/// The id of a consumer group's member. A member started in a named slot (`MSA_MEMBER`:
/// the supervisor's `lend#2`, a StatefulSet's pod name) is `<slot>~<incarnation>`; when a
/// new incarnation of the slot balances, the bus drops the earlier one at once, leases and
/// all, instead of waiting out its lease: whoever names the slots starts a slot's process
/// only after the previous one exited (the supervisor restarts a replica after it died;
/// Kubernetes runs at most one pod of a StatefulSet name). A member without a slot is
/// unique and loses its partitions only when it leaves or its lease expires.
public enum GroupMember {
    /// A new incarnation of `slot`: `<slot>~<start time, ms, hex>-<random>`, so that of two
    /// incarnations the later start is the later one.
    public static func id(slot: String, startedAt millis: Int64 = Clock.millis()) -> String {
        let time = String(millis, radix: 16)
        return "\(slot)~\(String(repeating: "0", count: max(0, 12 - time.count)))\(time)-\(RandomID.uuid().prefix(6).lowercased())"
    }

    /// The slot of a member id, nil for a member without one.
    public static func slot(of member: String) -> Substring? {
        guard let separator = member.lastIndex(of: "~") else { return nil }
        return member[..<separator]
    }

    /// Whether `other` is an incarnation of `member`'s slot started before it.
    public static func isEarlierIncarnation(_ other: String, of member: String) -> Bool {
        guard other != member, let slot = slot(of: member), self.slot(of: other) == slot else { return false }
        return other < member
    }
}

/// An event at its position in one partition of the log.
public struct BusRecord: Sendable, Equatable {
    public var position: Int64
    public var envelope: EventEnvelope
    public init(position: Int64, envelope: EventEnvelope) { self.position = position; self.envelope = envelope }
}
