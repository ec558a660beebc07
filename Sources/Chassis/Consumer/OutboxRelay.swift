import Logging
import ServiceLifecycle

/// Publishes what transactions put in the outbox, in commit order, and marks each entry
/// published only after the bus acknowledged it.
///
/// A crash after publishing but before marking republishes the same envelopes on restart;
/// the bus drops them by event id. An event of a rolled-back transaction never reaches the
/// outbox, so it is never published. Replicas sharing a store may relay the same entries
/// concurrently: each relay publishes in order, and the bus keeps the first copy, so the
/// log stays in commit order.
public final class OutboxRelay: Service {
    let store: any Store
    let bus: any EventBus
    let batchSize: Int
    let idleInterval: Duration
    let logger: Logger
    let metrics: ChassisMetrics

    public init(store: any Store, bus: any EventBus, batchSize: Int = 256, idleInterval: Duration = .milliseconds(100),
                logger: Logger, metrics: ChassisMetrics = .shared) {
        self.store = store
        self.bus = bus
        self.batchSize = batchSize
        self.idleInterval = idleInterval
        self.logger = logger
        self.metrics = metrics
    }

    /// Relays until cancelled or shut down gracefully; on graceful shutdown it first drains
    /// what is already committed.
    ///
    /// A batch's marks go with the next read of the outbox (``Store/markPublished(_:thenPending:)``,
    /// one round trip on PostgreSQL), which follows at once; when the relay stops, it writes
    /// what it has not marked yet.
    public func run() async throws {
        var failures = 0
        var unmarked: [Int64] = []
        defer {
            // The store refuses work in a cancelled task: mark from an unstructured one.
            if !unmarked.isEmpty { Task { [store, unmarked] in try? await store.markPublished(unmarked) } }
        }
        while !Task.isCancelled {
            do {
                let published = try await step(&unmarked)
                failures = 0
                if published == 0 {
                    if Task.isShuttingDownGracefully { return }
                    await store.waitForOutbox(timeout: idleInterval)
                }
            } catch is CancellationError {
                return
            } catch {
                failures += 1
                logger.warning("outbox relay failed, retrying", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                try? await LoopTimer.sleep(for: Backoff.delay(attempt: failures, base: .milliseconds(50), cap: .seconds(2)))
            }
        }
    }

    /// Publishes one batch of pending entries and marks it; returns how many.
    @discardableResult
    public func relayOnce() async throws -> Int {
        var unmarked: [Int64] = []
        let published = try await step(&unmarked)
        try await store.markPublished(unmarked)
        return published
    }

    /// Marks what the last step published (`unmarked`), reads the next batch and publishes
    /// it; its sequences are left in `unmarked`. Returns how many it published.
    private func step(_ unmarked: inout [Int64]) async throws -> Int {
        let pending = try await store.markPublished(unmarked, thenPending: batchSize)
        unmarked = []
        guard !pending.isEmpty else { return 0 }
        try await bus.publish(pending.map(\.envelope))
        unmarked = pending.map(\.sequence)
        metrics.published(pending.count)
        return pending.count
    }
}
