/// Wakes waiters when something happened, or lets them give up after a timeout; a ring
/// with nobody waiting is remembered for the next waiter, so no wake-up is lost.
public actor Doorbell {
    private var rung = false
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextId = 0

    public init() {}

    public func ring() {
        if waiters.isEmpty { rung = true; return }
        let woken = waiters
        waiters.removeAll()
        woken.values.forEach { $0.resume() }
    }

    /// Returns at the next ring (or at once if one came since the last wait), or after `timeout`.
    public func wait(timeout: Duration) async {
        if rung { rung = false; return }
        nextId += 1
        let id = nextId
        let timer = LoopTimer(after: timeout) { [weak self] in Task { await self?.wake(id) } }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiters[id] = $0 }
        } onCancel: {
            Task { await self.wake(id) }
        }
        timer.cancel()
    }

    private func wake(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }
}
