import Synchronization

/// Caps how many calls to one target are in flight, so a slow neighbour can tie up at most
/// `limit` of this service's tasks and connections, never all of them.
///
/// A full bulkhead rejects at once: it never queues, because a queued call would only add
/// its wait to a timeout the caller is already near. Every successful ``tryEnter()`` must
/// be paired with exactly one ``leave()``.
public final class Bulkhead: Sendable {
    public let limit: Int
    private let inFlight = Mutex(0)

    public init(limit: Int) {
        self.limit = max(limit, 1)
    }

    /// Takes a slot and returns `true`, or returns `false` when all `limit` are taken.
    public func tryEnter() -> Bool {
        inFlight.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// Gives back a slot taken by ``tryEnter()``.
    public func leave() {
        inFlight.withLock { count in
            precondition(count > 0, "Bulkhead.leave() without a matching tryEnter()")
            count -= 1
        }
    }

    /// Calls in flight now.
    public var current: Int { inFlight.withLock { $0 } }
}
