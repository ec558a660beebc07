import Synchronization

/// Caps how many calls to one target are in flight, so a slow neighbour can tie up at most
/// `limit` of this service's tasks and connections, never all of them.
///
/// A call that finds every slot taken may wait for one, but only briefly and only in a
/// bounded line: at most `queueLimit` callers wait, each at most the wait it asked for, in
/// arrival order. Past that it is refused at once. The wait lets a burst slightly above
/// capacity through instead of refusing it (a slot frees every few milliseconds under
/// load); the bounds keep a refusal cheap and quick, and keep waiters from piling up
/// behind a target that has stopped answering.
///
/// Every successful ``tryEnter()`` or ``enter(waitingAtMost:)`` must be paired with exactly
/// one ``leave()``.
public final class Bulkhead: Sendable {
    public let limit: Int
    public let queueLimit: Int

    private struct State {
        var inFlight = 0
        /// Waiters in arrival order, by ticket.
        var waiting: [(ticket: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        /// Tickets handed out whose holder has not joined `waiting` yet; a ticket given up
        /// in that moment is removed here, and its holder then leaves at once.
        var joining: Set<Int> = []
        var nextTicket = 0
    }

    private let state = Mutex(State())

    public init(limit: Int, queueLimit: Int = 0) {
        self.limit = max(limit, 1)
        self.queueLimit = max(queueLimit, 0)
    }

    /// Takes a slot and returns `true`, or returns `false` when all `limit` are taken.
    public func tryEnter() -> Bool {
        state.withLock { state in
            guard state.inFlight < limit else { return false }
            state.inFlight += 1
            return true
        }
    }

    /// How ``enter(waitingAtMost:)`` ended.
    public enum Entry: Sendable, Equatable {
        case admitted
        /// Every slot taken and the line full (or no waiting allowed): refused at once.
        case full
        /// No slot freed within the wait, or the task was cancelled while waiting.
        case waitedInVain
    }

    /// Takes a slot, waiting up to `wait` for one when all are taken (see ``Entry``).
    public func enter(waitingAtMost wait: Duration) async -> Entry {
        if tryEnter() { return .admitted }
        guard wait > .zero, queueLimit > 0 else { return .full }
        let ticket: Int? = state.withLock { state in
            guard state.waiting.count + state.joining.count < queueLimit else { return nil }
            state.nextTicket += 1
            state.joining.insert(state.nextTicket)
            return state.nextTicket
        }
        guard let ticket else { return .full }
        let timer = LoopTimer(after: wait) { [self] in give(up: ticket) }
        defer { timer.cancel() }
        let admitted = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let admitted: Bool? = state.withLock { state in
                    guard state.joining.remove(ticket) != nil else { return false }
                    // A slot may have freed between the first try and now.
                    if state.inFlight < limit {
                        state.inFlight += 1
                        return true
                    }
                    state.waiting.append((ticket, continuation))
                    return nil
                }
                if let admitted { continuation.resume(returning: admitted) }
            }
        } onCancel: {
            give(up: ticket)
        }
        return admitted ? .admitted : .waitedInVain
    }

    /// Gives back a slot: to the longest waiter if there is one, else to the pool.
    public func leave() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            precondition(state.inFlight > 0, "Bulkhead.leave() without a matching enter")
            if state.waiting.isEmpty {
                state.inFlight -= 1
                return nil
            }
            return state.waiting.removeFirst().continuation
        }
        next?.resume(returning: true)
    }

    /// Calls in flight now.
    public var current: Int { state.withLock { $0.inFlight } }
    /// Callers waiting for a slot now.
    public var waiting: Int { state.withLock { $0.waiting.count } }

    /// A waiter's deadline passed or its task was cancelled: refuse it, if it still waits
    /// (a slot handed over just before keeps it admitted).
    private func give(up ticket: Int) {
        let waiter: CheckedContinuation<Bool, Never>? = state.withLock { state in
            guard let index = state.waiting.firstIndex(where: { $0.ticket == ticket }) else {
                state.joining.remove(ticket)
                return nil
            }
            return state.waiting.remove(at: index).continuation
        }
        waiter?.resume(returning: false)
    }
}
