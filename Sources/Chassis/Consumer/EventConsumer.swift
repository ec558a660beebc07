import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Tuning of an ``EventConsumer``; the defaults suit a service, tests shorten them.
public struct ConsumerSettings: Sendable {
    /// How long a lease lasts without renewal: a replica that dies loses its partitions
    /// after it, and a survivor has them within this plus one ``rebalanceInterval`` (1.6 s
    /// at most by default). Short is safe: a member that misses its renewals (stalled, cut
    /// off from the bus) and handles on is fenced off by the store, not trusted to stop
    /// (``StoreTransaction/claim(group:partition:)``); too short only moves partitions
    /// needlessly on a machine that stalls for longer. `MSA_LEASE_TTL_MS`.
    public var leaseTTL: Duration = .milliseconds(1200)
    /// How often a member renews its leases and looks for members that joined or left
    /// (at least three times per ``leaseTTL``): a graceful leave or a new replica is
    /// noticed within this.
    public var rebalanceInterval: Duration = .milliseconds(400)
    /// Attempts of one event before it is parked as a dead letter.
    public var maxAttempts: Int = 5
    /// First retry delay; doubles per attempt up to ``retryCap``.
    public var retryBase: Duration = .milliseconds(100)
    public var retryCap: Duration = .seconds(5)
    public var batchSize: Int = 128
    /// How long a fetch waits for new events before checking leases and shutdown again.
    public var fetchWait: Duration = .milliseconds(250)
    /// How often, at most, a busy partition's progress is acknowledged to the bus. Positions
    /// in the store are what resumes a consumer; acknowledgements only let retention prune
    /// and `/metrics` report lag, so they need not cost a write to the shared log per batch.
    /// An idle partition acknowledges at once.
    public var ackInterval: Duration = .milliseconds(500)

    public init() {}
}

/// Runs a service's ``Policies`` as one consumer group over the bus.
///
/// Guarantees: each partition the group leases is read in order; each event is handled
/// in a transaction of the service's store that also records it as handled and commits
/// the partition's position, so a redelivered or re-read event is skipped (effectively
/// once) and a restarted consumer resumes where it committed. A failing event is retried
/// with backoff, holding its partition (per-key order), and parked as a dead letter after
/// ``ConsumerSettings/maxAttempts``. On graceful shutdown the consumer finishes the event
/// in hand, stops, and gives its leases up at once.
///
/// Never two owners of a partition: a lease from the bus lets a member start; before it
/// reads, it claims the partition in the store (a new epoch), and every transaction it
/// handles or moves the position in checks, under the store's write lock, that the epoch
/// is still its own. A member whose lease lapsed without its knowing (stalled past the
/// TTL, cut off from the bus) and that handles on has its transaction rolled back
/// (``PartitionFenced``) and lets the partition go; the new owner resumes from the
/// position the old one last committed.
public final class EventConsumer: Service {
    public let group: String
    public let member: String
    let store: any Store
    let bus: any EventBus
    let policies: Policies
    let settings: ConsumerSettings
    let logger: Logger
    let metrics: ChassisMetrics
    /// For a service with gated policies: rung after each batch handled, so the queue
    /// runner (``QueuedEventRunner``) starts at once on what the batch queued.
    let queued: Doorbell?
    private let owned = Mutex<Set<Int>>([])
    private let stopping = Mutex(false)
    /// The epoch this member claimed for each partition it holds: one claim per grant of
    /// the bus, kept while the member holds the partition (a consumer loop that restarts
    /// after an error does not claim again, or a member with a stale view of its leases
    /// would fence off the partition's real owner).
    private let epochs = Mutex<[Int: Int64]>([:])

    public init(group: String, member: String = UUID().uuidString.lowercased(), store: any Store, bus: any EventBus,
                policies: Policies, settings: ConsumerSettings = .init(), logger: Logger, metrics: ChassisMetrics = .shared,
                queued: Doorbell? = nil) {
        self.queued = queued
        self.group = group
        self.member = member
        self.store = store
        self.bus = bus
        self.policies = policies
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
    }

    /// The partitions this member holds right now.
    public var partitions: Set<Int> { owned.withLock { $0 } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { tasks in
                tasks.addTask { await self.balanceLoop() }
                for partition in 0..<bus.partitionCount {
                    tasks.addTask { await self.work(partition) }
                }
            }
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
        }
        // Also when cancelled rather than shut down: the store refuses work in a cancelled
        // task, so leave from an unstructured one, or the partitions wait out the lease.
        try? await Task { try await self.bus.leave(group: self.group, member: self.member) }.value
        owned.withLock { $0 = [] }
    }

    private var isStopping: Bool { stopping.withLock { $0 } || Task.isCancelled }
    private func owns(_ partition: Int) -> Bool { owned.withLock { $0.contains(partition) } }

    private func balanceLoop() async {
        let interval = min(settings.leaseTTL / 3, settings.rebalanceInterval)
        while !isStopping {
            do {
                let held = try await bus.balance(group: group, member: member, ttl: settings.leaseTTL)
                let before = owned.withLock { old in defer { old = held }; return old }
                epochs.withLock { epochs in epochs = epochs.filter { held.contains($0.key) } }
                if before != held {
                    logger.info("partitions rebalanced", metadata: ["group": "\(group)", "partitions": "\(held.sorted())"])
                }
                metrics.leases(group: group, count: held.count)
            } catch {
                // Without a renewal our leases lapse; stop handling rather than risk a second owner.
                owned.withLock { $0 = [] }
                logger.warning("lease renewal failed", metadata: ["group": "\(group)", "error": "\(error)"])
            }
            try? await sleep(interval)
        }
    }

    /// Sleeps in short steps so shutdown is noticed quickly.
    private func sleep(_ duration: Duration) async throws {
        let deadline = ContinuousClock.now + duration
        while !isStopping && ContinuousClock.now < deadline {
            try await LoopTimer.sleep(for: min(.milliseconds(50), deadline - ContinuousClock.now))
        }
    }

    private func work(_ partition: Int) async {
        var failures = 0
        while !isStopping {
            guard owns(partition) else {
                try? await sleep(.milliseconds(100))
                continue
            }
            do {
                try await consume(partition)
                failures = 0
            } catch let error as PartitionFenced {
                // Until the next balance, which lists it for us again only if its claimer's
                // lease lapsed in turn (then we claim it anew).
                owned.withLock { _ = $0.remove(partition) }
                epochs.withLock { _ = $0.removeValue(forKey: partition) }
                logger.info("partition taken over by another member", metadata: ["group": "\(group)", "partition": "\(partition)", "reason": "\(error)"])
            } catch {
                failures += 1
                logger.warning("consumer loop failed", metadata: ["group": "\(group)", "partition": "\(partition)", "error": "\(error)"])
                try? await sleep(Backoff.delay(attempt: failures, base: .milliseconds(100), cap: .seconds(2)))
            }
        }
    }

    /// Handles `partition` from its committed position while this member owns it.
    ///
    /// Events no policy handles move the position without a transaction of their own: it
    /// is written with the next handled event, or with the acknowledgement (at most once
    /// per ``ConsumerSettings/ackInterval``). After a crash such events are read again and
    /// skipped again; nothing is handled twice, and a consumer of a few event types does
    /// not pay a commit for every event of the system.
    private func consume(_ partition: Int) async throws {
        let known = epochs.withLock { $0[partition] }
        let (epoch, start) = try await store.write { tx in
            let epoch: Int64
            if let known {
                try await tx.fence(group: group, partition: partition, epoch: known)
                epoch = known
            } else {
                epoch = try await tx.claim(group: group, partition: partition)
            }
            return (epoch, try await tx.position(group: group, partition: partition))
        }
        epochs.withLock { $0[partition] = epoch }
        var position = start
        var recorded = position
        var acknowledged = position
        var lastAcknowledged = ContinuousClock.now
        while owns(partition) && !isStopping {
            let records = try await bus.fetch(group: group, partition: partition, after: position,
                                              limit: settings.batchSize, wait: settings.fetchWait)
            if let last = records.last, try await handleTogether(records, partition: partition, epoch: epoch) {
                position = last.position
                recorded = position
            } else {
                for record in records {
                    guard owns(partition) && !isStopping else { break }
                    if policies.handler(for: record.envelope.type) != nil {
                        guard try await handle(record, partition: partition, epoch: epoch) else { return }
                        recorded = record.position
                    }
                    position = record.position
                }
            }
            if let queued, !records.isEmpty { await queued.ring() }
            if position != acknowledged && (records.isEmpty || lastAcknowledged.duration(to: .now) >= settings.ackInterval) {
                if position != recorded {
                    let reached = position
                    try await store.write { tx in
                        try await tx.fence(group: group, partition: partition, epoch: epoch)
                        try await tx.setPosition(group: group, partition: partition, to: reached)
                    }
                    recorded = position
                }
                try await bus.acknowledge(group: group, partition: partition, through: position)
                (acknowledged, lastAcknowledged) = (position, .now)
            }
        }
    }

    /// Handles a batch in one transaction: one commit for many events, with the same
    /// guarantees as one by one. False, with nothing changed, if any handler failed (the
    /// batch is then handled one by one, so only the failing event is retried and
    /// parked), if this member no longer owns the partition, or if no event of the batch
    /// has a handler (the position then moves without a transaction, as for one event).
    private func handleTogether(_ records: [BusRecord], partition: Int, epoch: Int64) async throws -> Bool {
        guard records.count > 1, owns(partition), !isStopping, let last = records.last,
              records.contains(where: { policies.handler(for: $0.envelope.type) != nil }) else { return false }
        let started = ContinuousClock.now
        let outcomes: [(type: String, first: Bool)]
        do {
            outcomes = try await store.write { tx in
                try await tx.fence(group: group, partition: partition, epoch: epoch)
                var outcomes: [(type: String, first: Bool)] = []
                let handled = records.compactMap { record in policies.handler(for: record.envelope.type).map { (record.envelope, $0) } }
                // One check of the whole batch's handled records (a consumer catching up after
                // downtime gets full batches); an id twice in the batch is handled at its
                // first place only.
                var fresh = try await tx.recordHandled(eventIds: handled.map(\.0.id), by: group)
                for (envelope, handler) in handled {
                    let first = fresh.remove(envelope.id) != nil
                    if first { try await Self.run(handler, on: envelope, in: tx) }
                    outcomes.append((envelope.type, first))
                }
                try await tx.setPosition(group: group, partition: partition, to: last.position)
                return outcomes
            }
        } catch {
            if error is CancellationError || error is PartitionFenced { throw error }
            return false
        }
        let each = outcomes.isEmpty ? .zero : (ContinuousClock.now - started) / outcomes.count
        for outcome in outcomes { count(outcome.type, first: outcome.first, duration: each) }
        return true
    }

    /// Records `envelope` as handled by `group` and, the first time only, runs `handler`
    /// in the trace the event continues; whether this was the first time.
    static func handleOnce(_ envelope: EventEnvelope, _ handler: Policies.Handler, group: String,
                           in tx: any StoreTransaction) async throws -> Bool {
        guard try await tx.recordHandled(eventId: envelope.id, by: group) else { return false }
        try await run(handler, on: envelope, in: tx)
        return true
    }

    /// Runs `handler` in the trace the event continues.
    static func run(_ handler: Policies.Handler, on envelope: EventEnvelope, in tx: any StoreTransaction) async throws {
        try await TraceContext.$current.withValue(TraceContext.child(of: envelope.traceparent)) {
            try await handler(envelope, tx)
        }
    }

    private func count(_ type: String, first: Bool, duration: Duration) {
        if first { metrics.handled(group: group, type: type, duration: duration) } else { metrics.duplicate(group: group, type: type) }
    }

    /// Handles one event with retries; false if the consumer stopped before it was settled.
    private func handle(_ record: BusRecord, partition: Int, epoch: Int64) async throws -> Bool {
        let envelope = record.envelope
        guard let handler = policies.handler(for: envelope.type) else { return true }
        var attempt = 0
        while true {
            attempt += 1
            let started = ContinuousClock.now
            do {
                let first = try await store.write { tx in
                    try await tx.fence(group: group, partition: partition, epoch: epoch)
                    let first = try await Self.handleOnce(envelope, handler, group: group, in: tx)
                    try await tx.setPosition(group: group, partition: partition, to: record.position)
                    return first
                }
                count(envelope.type, first: first, duration: ContinuousClock.now - started)
                return true
            } catch let fenced as PartitionFenced {
                throw fenced
            } catch {
                metrics.handlerFailed(group: group, type: envelope.type)
                if attempt >= settings.maxAttempts {
                    try await park(record, partition: partition, epoch: epoch, error: error, attempts: attempt)
                    return true
                }
                logger.warning("event handler failed, will retry", metadata: [
                    "group": "\(group)", "type": "\(envelope.type)", "event": "\(envelope.id)", "attempt": "\(attempt)",
                    "error": "\(error)",
                ])
                try await sleep(Backoff.delay(attempt: attempt, base: settings.retryBase, cap: settings.retryCap))
                if isStopping || !owns(partition) { return false }
            }
        }
    }

    private func park(_ record: BusRecord, partition: Int, epoch: Int64, error: any Error, attempts: Int) async throws {
        let letter = DeadLetter(group: group, partition: partition, position: record.position, envelope: record.envelope,
                                error: "\(error)", attempts: attempts)
        try await store.write { tx in
            try await tx.fence(group: group, partition: partition, epoch: epoch)
            try await tx.park(letter)
            try await tx.setPosition(group: group, partition: partition, to: record.position)
        }
        metrics.deadLettered(group: group, type: record.envelope.type)
        logger.error("event parked as dead letter", metadata: [
            "group": "\(group)", "type": "\(record.envelope.type)", "event": "\(record.envelope.id)", "error": "\(error)",
        ])
    }

    /// Runs the handler of a parked event again, once, and removes it from the dead
    /// letters if it succeeds (the transaction rolls back otherwise, keeping it parked).
    public static func replay(deadLetter id: Int64, group: String, store: any Store, policies: Policies) async throws -> Bool {
        try await store.write { tx in
            guard let letter = try await tx.takeDeadLetter(id: id) else { return false }
            if letter.partition == QueuedEvent.parkedPartition {
                // Parked from a gated policy's queue: it was handled (queued) once; queue it again.
                try await QueuedEvent.enqueue(letter.envelope, tx)
            } else if let handler = policies.handler(for: letter.envelope.type) {
                _ = try await handleOnce(letter.envelope, handler, group: group, in: tx)
            }
            return true
        }
    }
}
