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
    /// what exceeds it. Returns the partitions `member` holds for the next `ttl`.
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

/// An event at its position in one partition of the log.
public struct BusRecord: Sendable, Equatable {
    public var position: Int64
    public var envelope: EventEnvelope
    public init(position: Int64, envelope: EventEnvelope) { self.position = position; self.envelope = envelope }
}
