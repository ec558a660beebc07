import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The gated calls a service declared, by name: what the undo job needs to undo a record
/// it finds, even one left by an earlier run of the process.
final class CallRegistry: Sendable {
    struct Undo: Sendable {
        let client: ServiceClient
        /// The undo request, from the call's request as stored.
        let outbound: @Sendable (String) throws -> Outbound
    }

    private let undos = Mutex<[String: Undo]>([:])
    /// Rung when a call is queued for undoing, so the job need not wait for its next round.
    let doorbell = Doorbell()

    func register(_ name: String, client: ServiceClient, outbound: @escaping @Sendable (String) throws -> Outbound) {
        undos.withLock { $0[name] = Undo(client: client, outbound: outbound) }
    }

    func undo(for name: String) -> Undo? { undos.withLock { $0[name] } }
    var isEmpty: Bool { undos.withLock { $0.isEmpty } }
}

/// Undoes gated calls whose outcome is unknown (see ``GatedCall``): every second, or at
/// once when a caller queues one, it sends each due record's undo through the target's
/// client — its breaker and bulkhead included — and deletes the record once the target
/// answered below 500. A target that fails is tried again with backoff (1 s doubling to
/// 60 s, per record); a target whose breaker is open is left alone until the next round,
/// at no cost. At most `<TARGET>_UNDO_PER_SECOND` (20) undos a second go to one target,
/// sent concurrently, so a slow target is not undone at the pace of its latency.
///
/// Several replicas of a service may run it on one store: an undo is idempotent, so two
/// replicas sending the same one is harmless.
struct UndoJob: Service {
    let runtime: ServiceRuntime
    var interval: Duration = .seconds(1)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await runtime.calls.doorbell.wait(timeout: interval)
                guard !Task.isCancelled else { return }
                do {
                    try await runtime.undoPendingCalls()
                } catch is CancellationError {
                    return
                } catch {
                    runtime.logger.warning("undoing gated calls failed, will retry", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

extension ServiceRuntime {
    /// One round of the undo job (``UndoJob``): every gated call due at `now` (ms since
    /// 1970), oldest first. Returns how many undos the targets acknowledged.
    @discardableResult
    public func undoPendingCalls(asOf now: Int64 = Clock.millis()) async throws -> Int {
        try await undoDue(runtime: self, now: now)
    }
}

private func undoDue(runtime: ServiceRuntime, now: Int64) async throws -> Int {
    let due = try await runtime.store.all(PendingCall.self, DocumentQuery(limit: 1000)).filter { $0.isDue(at: now) }
    var byTarget: [String: [(record: PendingCall, undo: CallRegistry.Undo)]] = [:]
    for found in due {
        guard let undo = runtime.calls.undo(for: found.call) else {
            runtime.logger.error("a pending call has no declared undo", metadata: ["call": "\(found.call)", "record": "\(found.id!)"])
            continue
        }
        byTarget[undo.client.name, default: []].append((found, undo))
    }
    // Targets are independent: one slow or closed target does not hold up the others.
    return try await withThrowingTaskGroup(of: Int.self) { group in
        for (target, records) in byTarget {
            group.addTask { try await undo(records, to: target, runtime: runtime) }
        }
        return try await group.reduce(0, +)
    }
}

/// Sends the undos due to one target, oldest first, at most `<TARGET>_UNDO_PER_SECOND`
/// a second: each undo is started on its own once its turn at the pacer comes, so a
/// target answering in 500 ms still takes 20 a second, not 2. In flight at once: at most
/// the rate times an undo's own bound (its timeout and one retry), and never more than
/// the target's bulkhead admits to this service. The round ends when the target refuses
/// locally (breaker open, bulkhead full: nothing written, the next round tries again) or
/// every undo has settled.
private func undo(_ records: [(record: PendingCall, undo: CallRegistry.Undo)], to target: String,
                  runtime: ServiceRuntime) async throws -> Int {
    let pacer = Pacer(perSecond: runtime.setting("\(target.uppercased())_UNDO_PER_SECOND", default: 20))
    return try await withThrowingTaskGroup(of: Bool.self) { group in
        for (found, undo) in records {
            try await pacer.next()
            let admission: ServiceClient.Admission
            do { admission = try await undo.client.admit() } catch is Refusal { break }
            let record: PendingCall
            do {
                guard let taken = try await takeOver(found, in: runtime.store) else {
                    admission.finish()
                    continue
                }
                record = taken
            } catch {
                admission.finish()
                throw error
            }
            group.addTask {
                defer { admission.finish() }
                return try await send(record, undo: undo, through: admission, runtime: runtime)
            }
        }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
    }
}

/// Sends one undo and settles its record: deleted once the target answered below 500
/// (a 4xx means there is nothing to undo), postponed with backoff otherwise.
private func send(_ record: PendingCall, undo: CallRegistry.Undo, through admission: ServiceClient.Admission,
                  runtime: ServiceRuntime) async throws -> Bool {
    do {
        let outbound = try undo.outbound(record.request)
        let answer = try await admission.send(outbound.method, outbound.path, json: outbound.body, idempotent: true)
        if !(200..<300).contains(answer.status) {
            runtime.logger.warning("an undo was refused, taking that as nothing to undo", metadata: [
                "call": "\(record.call)", "status": "\(answer.status)", "answer": "\(answer.message)",
            ])
        }
        try await runtime.store.write { tx in try await tx.remove(PendingCall.collection, id: record.id!) }
        ChassisMetrics.shared.undone(record.call)
        return true
    } catch let error as CancellationError {
        throw error
    } catch {
        try await postpone(record, error: error, in: runtime.store, logger: runtime.logger)
        return false
    }
}

/// A `sent` record past its deadline becomes an `undo` record under a new id, so that its
/// caller's commit — which deletes the old id and must find it — fails if it comes now.
/// Nil when another replica or the caller settled it first.
private func takeOver(_ record: PendingCall, in store: any Store) async throws -> PendingCall? {
    guard record.state == .sent else { return record }
    return try await store.write { tx in
        guard try await tx.delete(PendingCall.collection, id: record.id!) else { return nil }
        var undo = record
        undo.id = nil
        undo.state = .undo
        undo.lastError = "its caller did not settle it within its deadline"
        return try await tx.save(undo)
    }
}

private func postpone(_ record: PendingCall, error: any Error, in store: any Store, logger: Logger) async throws {
    var next = record
    next.attempts += 1
    next.dueAt = Clock.millis() + Backoff.delay(attempt: next.attempts, base: .seconds(1), cap: .seconds(60)).wholeMilliseconds
    next.lastError = "\(error)"
    try await store.write { tx in
        guard try await tx.get(PendingCall.self, id: record.id!) != nil else { return }  // another replica finished it
        try await tx.save(next)
    }
    if next.attempts == 1 || next.attempts % 10 == 0 {
        logger.warning("undo failed, will retry", metadata: ["call": "\(record.call)", "attempts": "\(next.attempts)", "error": "\(error)"])
    }
}

/// Spaces sends to one target at least `1/perSecond` apart.
private final class Pacer {
    let spacing: Duration
    var last: ContinuousClock.Instant?

    init(perSecond: Int) { spacing = .milliseconds(1000 / Int64(max(perSecond, 1))) }

    func next() async throws {
        if let last { try await LoopTimer.sleep(until: last + spacing) }
        last = .now
    }
}
