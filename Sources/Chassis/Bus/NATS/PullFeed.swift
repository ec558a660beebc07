import Foundation
import NIOCore
import Synchronization

/// A continuous pull on one durable JetStream consumer: one pull request for `window`
/// events is kept open on the server, so events arrive as soon as they are stored,
/// without a request each, and wait here until ``take(limit:wait:)`` collects them. When
/// the request has delivered its window or expired (the server says 408), the next one
/// is sent at once. This is how NATS's own clients "consume"; a request per fetch cost
/// the consumer and the server several messages per event.
///
/// The feed ends — ``take(limit:wait:)`` throws once its events are collected — when the
/// consumer is deleted (another member recreated it), the server answers a pull with an
/// error, or ``close()`` is called. The bus then starts the consumer again from the
/// committed position.
final class PullFeed: Sendable {
    private let client: NATSClient
    private let subject: String
    private let inbox: String
    private let subscription: NATSSubscription
    private let window: Int
    private let expires: Duration
    private let state = Mutex(State())

    private struct State {
        var messages: [NATSMessage] = []
        /// Takes waiting for an event. Usually one; two members of a group in one process
        /// (tests do this) share the bus and so the feed, and a second waiter must not
        /// replace the first, whose task would then wait for ever.
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Events the open request may still deliver.
        var credit = 0
        var requested = ContinuousClock.now
        var failure: (any Error)?
    }

    private init(client: NATSClient, subject: String, inbox: String, subscription: NATSSubscription, window: Int, expires: Duration) {
        self.client = client
        self.subject = subject
        self.inbox = inbox
        self.subscription = subscription
        self.window = window
        self.expires = expires
    }

    static func start(_ jetStream: JetStream, stream: String, consumer: String, window: Int = 256,
                      expires: Duration = .seconds(5)) async throws -> PullFeed {
        let client = jetStream.client
        let inbox = client.newInbox()
        let subscription = try await client.subscribe(inbox)
        let feed = PullFeed(client: client, subject: "$JS.API.CONSUMER.MSG.NEXT.\(stream).\(consumer)", inbox: inbox,
                            subscription: subscription, window: window, expires: expires)
        Task { await feed.receive() }
        do {
            try await feed.request()
        } catch {
            feed.close()
            throw error
        }
        return feed
    }

    private func request() async throws {
        state.withLock { state in
            state.credit = window
            state.requested = .now
        }
        let body: JSONValue = ["batch": .number(Double(window)), "expires": .number(Double(expires.wholeNanoseconds))]
        try await client.publish(subject, payload: ByteBuffer(data: try JSON.encode(body)), replyTo: inbox)
    }

    private func receive() async {
        for await message in subscription {
            if let status = message.status {
                if status == 100 { continue }  // Idle heartbeat.
                // 408: the request expired; 404: nothing to deliver. Anything else (409:
                // consumer deleted, too many waiting requests, …) ends the feed.
                guard status == 408 || status == 404 else {
                    end(JetStreamError(code: status, errorCode: 0, description: message.statusDescription ?? "pull ended"))
                    return
                }
                state.withLock { $0.credit = 0 }
            } else {
                let waiters = state.withLock { state in
                    state.messages.append(message)
                    state.credit -= 1
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
            if state.withLock({ $0.credit <= 0 && $0.failure == nil }) {
                do { try await request() } catch {
                    end(error)
                    return
                }
            }
        }
        end(NATSError.closed)
    }

    private func end(_ failure: any Error) {
        let waiters = state.withLock { state in
            if state.failure == nil { state.failure = failure }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Up to `limit` delivered events, waiting up to `wait` for the first if none is here.
    func take(limit: Int, wait: Duration) async throws -> [NATSMessage] {
        // A request that outlived its expiry without the server's 408 (lost in a reconnect,
        // or expired while delivering) is replaced: a second open request only shares the
        // deliveries, in order.
        if state.withLock({ $0.failure == nil && $0.requested.duration(to: .now) > expires + .seconds(1) }) {
            do { try await request() } catch {
                end(error)
                throw error
            }
        }
        if wait > .zero && state.withLock({ $0.messages.isEmpty && $0.failure == nil }) {
            let timer = LoopTimer(after: wait) { [weak self] in self?.wake() }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { state in
                        guard state.messages.isEmpty && state.failure == nil && !Task.isCancelled else { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                wake()
            }
            timer.cancel()
        }
        return try state.withLock { state in
            if state.messages.isEmpty, let failure = state.failure { throw failure }
            let taken = Array(state.messages.prefix(limit))
            state.messages.removeFirst(taken.count)
            return taken
        }
    }

    /// How many takes wait for an event now.
    var waitingTakes: Int { state.withLock { $0.waiters.count } }

    /// Wakes every waiter (a waiter woken early, by another's deadline, finds what there
    /// is, perhaps nothing, as after its own).
    private func wake() {
        let waiters = state.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Stops the feed: the open request's events are no longer received.
    func close() {
        subscription.unsubscribe()
        end(NATSError.closed)
    }
}
