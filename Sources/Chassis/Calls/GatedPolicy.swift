import Foundation
import Logging
import ServiceLifecycle
import Synchronization

extension Policies {
    /// "Whenever `E`, call another service until it agrees, then commit the change":
    /// productdelivery's "when an order is accepted with stock, have marketing issue the
    /// coupon, then take the stock and start delivery".
    ///
    /// ```swift
    /// Policies().on(OrderAccepted.self, calling: marketing.issueCoupon) { event, tx in
    ///     try await tx.require(Stock.self, id: event.productId).available ? CouponRequest(orderId: event.orderId) : nil
    /// } then: { event, coupon, answer, tx in
    ///     let issued = try answer.decode(Promote.self)   // what the target answered
    ///     try await tx.update(Stock.self, id: event.productId) { try $0.take(for: event.orderId, coupon: issued) }
    /// }
    /// ```
    ///
    /// Guarantees, beyond those of every policy and of ``GatedCall``:
    /// - **Per-key order.** Handling the event queues it in the service's store (in the
    ///   transaction that records it handled); every later event of the same correlation
    ///   key that this service handles queues behind it, and they run in order once it is
    ///   done. Events of other keys are not held up: the consumer moves on at once.
    /// - **Until it succeeds.** While the target cannot answer (down, slow, breaker open,
    ///   bulkhead full) the call is tried again with backoff (0.5 s doubling to 30 s), for
    ///   as long as it takes, writing nothing for an attempt that was refused locally.
    /// - **Dead letters.** Any other failure — the target refusing the call (4xx),
    ///   `request` or `then` throwing — counts as an attempt of the event; after
    ///   ``ConsumerSettings/maxAttempts`` the event is parked as a dead letter like any
    ///   failing handler (its key's later events then go on), and a replay queues it again.
    /// - **No double change.** `request` runs in the transaction that records the call
    ///   and may decide that no call is needed (nil): what it wrote then commits and the
    ///   event is done. `then` commits with the settlement of the call, given the target's
    ///   answer; if two replicas briefly both run the event (a partition moving), the
    ///   second commit is refused and the call is not undone.
    /// - **One call of a key at a time.** A call of unknown outcome is undone before the
    ///   next attempt is sent (the key's call being undone, or still owned by a caller
    ///   that crashed, counts as the target being unavailable), so the target never holds
    ///   two attempts for one key: give each attempt its own id (a `CallTarget`'s attempt).
    public func on<E: DomainEvent, Request>(
        _ type: E.Type, calling port: CallPort<Request>,
        request: @escaping @Sendable (E, any StoreTransaction) async throws -> Request?,
        then: @escaping @Sendable (E, Request, ServiceResponse, any StoreTransaction) async throws -> Void
    ) -> Policies {
        var copy = self
        copy.ports[port.service + "." + port.name] = { runtime in runtime.gatedCall(port).client.policy.maxConcurrent }
        copy.gated[E.eventType] = { envelope, queued, runtime in
            let call = runtime.gatedCall(port)
            let store = runtime.store
            let event = try envelope.decode(E.self)
            try await TraceContext.$current.withValue(TraceContext.child(of: envelope.traceparent)) {
                _ = try await call.performIfAsked(in: store, key: "\(E.eventType):\(envelope.key)", inFlightIsUnavailable: true) { tx in
                    guard try await tx.get(QueuedEvent.self, id: queued) != nil else { throw Superseded("event \(envelope.id)") }
                    guard let asked = try await request(event, tx) else {
                        try await tx.remove(QueuedEvent.collection, id: queued)
                        return nil
                    }
                    return asked
                } commit: { asked, answer, tx in
                    guard try await tx.delete(QueuedEvent.collection, id: queued) else { throw Superseded("event \(envelope.id)") }
                    try await then(event, asked, answer, tx)
                }
            }
        }
        copy.handlers[E.eventType] = { envelope, tx in try await QueuedEvent.enqueue(envelope, tx) }
        return copy
    }
}

/// An event a service handled by queueing it: a gated policy's event, or a later event of
/// a key that has one queued. Its id orders the queue of its key.
struct QueuedEvent: Entity {
    static let collection = "queuedEvents"
    /// The partition of dead letters parked from the queue (they have no log position).
    static let parkedPartition = -1

    var id: Int64?
    var key: String
    var envelope: EventEnvelope
    /// Attempts that failed for a reason other than the target being unavailable.
    var attempts: Int = 0
    var dueAt: Int64 = 0
    var lastError: String?

    static func enqueue(_ envelope: EventEnvelope, _ tx: any StoreTransaction) async throws {
        try await tx.save(QueuedEvent(key: envelope.key, envelope: envelope))
    }

    static func isQueued(key: String, _ tx: any StoreTransaction) async throws -> Bool {
        try await tx.count(collection, matching: [FieldMatch("key", key)]) > 0
    }
}

/// Runs the queued events of a service with gated policies (see
/// ``Policies/on(_:calling:request:then:)``): the oldest due event of each key in the
/// partitions this member's consumer owns, 32 keys at a time — or as many as the
/// narrowest target's bulkhead admits, so the runner never turns its own calls away as
/// a full bulkhead (which would back them off as if the target were down) — one starting
/// as another ends. A round starts as soon as the consumer queued something (its
/// doorbell), again at once while a round found work, and at least every 100 ms for
/// retries that fell due.
struct QueuedEventRunner: Service {
    let group: String
    let runtime: ServiceRuntime
    let policies: Policies
    let settings: ConsumerSettings
    /// The partitions this member owns now.
    let owned: @Sendable () -> Set<Int>
    var doorbell = Doorbell()
    var interval: Duration = .milliseconds(100)
    /// Keys run at once: 32, or the narrowest bulkhead of the gated calls (``width(for:runtime:)``).
    var width = 32

    static func width(for policies: Policies, runtime: ServiceRuntime) -> Int {
        min(32, max(1, policies.ports.values.map { $0(runtime) }.min() ?? 32))
    }

    func run() async throws {
        let backoff = UnavailableBackoff()
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var ran = 0
                do {
                    ran = try await runDue(backoff: backoff)
                } catch is CancellationError {
                    return
                } catch {
                    runtime.logger.warning("queued events failed, will retry", metadata: ["group": "\(group)", "error": "\(error)"])
                }
                if ran == 0 { await doorbell.wait(timeout: interval) }
            }
        }
    }

    /// One round: the oldest event of each key, if due and in an owned partition. Returns
    /// how many it ran.
    @discardableResult
    func runDue(backoff: UnavailableBackoff, now: Int64 = Clock.millis()) async throws -> Int {
        let queued = try await runtime.store.all(QueuedEvent.self, DocumentQuery(limit: 1000)).sorted { $0.id! < $1.id! }
        var firsts: [String: QueuedEvent] = [:]
        for event in queued where firsts[event.key] == nil { firsts[event.key] = event }
        let partitions = owned()
        let due = firsts.values
            .filter { partitions.contains($0.envelope.partition(of: runtime.bus.partitionCount)) && $0.dueAt <= now && backoff.allows($0.id!, at: now) }
            .sorted { $0.id! < $1.id! }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, event) in due.enumerated() {
                if index >= width { try await group.next() }
                group.addTask { try await run(event, backoff: backoff) }
            }
            try await group.waitForAll()
        }
        return due.count
    }

    private func run(_ queued: QueuedEvent, backoff: UnavailableBackoff) async throws {
        let envelope = queued.envelope
        let started = ContinuousClock.now
        do {
            if let step = policies.gated[envelope.type] {
                try await step(envelope, queued.id!, runtime)
            } else if let handler = policies.handlers[envelope.type] {
                try await runtime.store.write { tx in
                    guard try await tx.delete(QueuedEvent.collection, id: queued.id!) else { return }
                    try await EventConsumer.run(handler, on: envelope, in: tx)
                }
            }
            backoff.clear(queued.id!)
            ChassisMetrics.shared.handled(group: group, type: envelope.type, duration: ContinuousClock.now - started)
        } catch let refusal as Refusal where refusal.status == 503 {
            backoff.failed(queued.id!)
        } catch let error as CancellationError {
            throw error
        } catch is Superseded {
            backoff.clear(queued.id!)  // done by another replica
        } catch {
            ChassisMetrics.shared.handlerFailed(group: group, type: envelope.type)
            try await failed(queued, error: error)
        }
    }

    private func failed(_ queued: QueuedEvent, error: any Error) async throws {
        var next = queued
        next.attempts += 1
        next.lastError = "\(error)"
        if next.attempts >= settings.maxAttempts {
            let letter = DeadLetter(group: group, partition: QueuedEvent.parkedPartition, position: queued.id!, envelope: queued.envelope,
                                    error: "\(error)", attempts: next.attempts)
            try await runtime.store.write { tx in
                guard try await tx.delete(QueuedEvent.collection, id: queued.id!) else { return }
                try await tx.park(letter)
            }
            ChassisMetrics.shared.deadLettered(group: group, type: queued.envelope.type)
            runtime.logger.error("queued event parked as dead letter", metadata: [
                "group": "\(group)", "type": "\(queued.envelope.type)", "event": "\(queued.envelope.id)", "error": "\(error)",
            ])
            return
        }
        next.dueAt = Clock.millis() + Backoff.delay(attempt: next.attempts, base: settings.retryBase, cap: settings.retryCap).wholeMilliseconds
        try await runtime.store.write { tx in
            guard try await tx.get(QueuedEvent.self, id: queued.id!) != nil else { return }
            try await tx.save(next)
        }
    }
}

/// Backoff for queued events whose target is unavailable, kept in memory: such attempts
/// cost no write, and after a restart the queue is simply tried again.
final class UnavailableBackoff: Sendable {
    private let state = Mutex<[Int64: (attempts: Int, until: Int64)]>([:])

    func allows(_ id: Int64, at now: Int64) -> Bool { state.withLock { ($0[id]?.until ?? 0) <= now } }
    func clear(_ id: Int64) { _ = state.withLock { $0.removeValue(forKey: id) } }

    func failed(_ id: Int64) {
        state.withLock { state in
            let attempts = (state[id]?.attempts ?? 0) + 1
            state[id] = (attempts, Clock.millis() + Backoff.delay(attempt: attempts, base: .milliseconds(500), cap: .seconds(30)).wholeMilliseconds)
        }
    }
}
