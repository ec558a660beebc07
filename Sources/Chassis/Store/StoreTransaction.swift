import Foundation

/// What a transaction can do besides reading. See ``Store/write(_:)`` for its guarantee.
public protocol StoreTransaction: DocumentReader {
    var service: String { get }
    func put(_ collection: String, id: Int64, body: Data) async throws
    @discardableResult func delete(_ collection: String, id: Int64) async throws -> Bool
    /// Reads these documents together, ahead of the `document` calls that follow: a hint
    /// that saves a round trip each on a database across the network (SQLite ignores it).
    func prefetch(_ documents: [(collection: String, id: Int64)]) async throws
    /// Deletes the document if there is one, without saying whether there was: a store
    /// may then defer the write (PostgreSQL sends it with the transaction's other writes).
    func remove(_ collection: String, id: Int64) async throws
    /// The next id of `collection`: above every id committed in it so far.
    func nextId(_ collection: String) async throws -> Int64
    /// Adds events to the outbox; the relay publishes them after this transaction commits.
    func enqueue(_ events: [EventEnvelope]) async throws
    /// Records that `consumer` handled `eventId`; false if it already had (skip the event).
    func recordHandled(eventId: String, by consumer: String) async throws -> Bool
    /// ``recordHandled(eventId:by:)`` for several events at once (one statement on
    /// PostgreSQL): the ids that were new, each once.
    func recordHandled(eventIds: [String], by consumer: String) async throws -> Set<String>
    /// The last position `group` committed for `partition`, or 0.
    func position(group: String, partition: Int) async throws -> Int64
    func setPosition(group: String, partition: Int, to position: Int64) async throws
    /// Makes the caller `partition`'s one writer for `group`: raises the partition's epoch
    /// and returns it. Every later transaction of the group's handling checks it still
    /// holds that epoch (``fence(group:partition:epoch:)``), so once a new member claimed
    /// the partition, nothing the old one still does commits. Written at once, not with
    /// the transaction's other writes.
    func claim(group: String, partition: Int) async throws -> Int64
    /// `partition`'s epoch for `group` as committed, 0 before any claim.
    func epoch(group: String, partition: Int) async throws -> Int64
    func park(_ letter: DeadLetter) async throws
    /// Removes and returns a dead letter (to replay it).
    func takeDeadLetter(id: Int64) async throws -> DeadLetter?
}

/// A transaction of a member that no longer holds its partition: another member claimed
/// it (``StoreTransaction/claim(group:partition:)``) since. It is rolled back.
public struct PartitionFenced: Error, CustomStringConvertible {
    public let group: String
    public let partition: Int
    public let epoch: Int64
    public let current: Int64
    public var description: String { "partition \(partition) of \(group) was claimed again (epoch \(current), this member's \(epoch))" }
}

extension StoreTransaction {
    /// Throws ``PartitionFenced`` unless `epoch` is still `partition`'s: checked under the
    /// store's write lock (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's `write_lock` row),
    /// which a claim takes too, so a claim and this transaction cannot interleave.
    public func fence(group: String, partition: Int, epoch: Int64) async throws {
        let current = try await self.epoch(group: group, partition: partition)
        guard current == epoch else { throw PartitionFenced(group: group, partition: partition, epoch: epoch, current: current) }
    }
}
