/// A FIFO mutual-exclusion lock for async code: holders may suspend while holding it,
/// which `NIOLock` and `Mutex` forbid. Used to give one task at a time a store's writer.
public actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func lock() async {
        if !locked { locked = true; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Hands the lock to the oldest waiter, or frees it.
    public func unlock() {
        if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
    }

    /// Passes the lock straight to the oldest waiter, if any; false, still locked, if
    /// nobody waits.
    public func handOff() -> Bool {
        guard !waiters.isEmpty else { return false }
        waiters.removeFirst().resume()
        return true
    }

    /// Runs `body` holding the lock; the lock is released however `body` ends.
    public nonisolated func withLock<T>(_ body: () async throws -> T) async rethrows -> T {
        await lock()
        do {
            let result = try await body()
            await unlock()
            return result
        } catch {
            await unlock()
            throw error
        }
    }
}
