import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A NATS client over SwiftNIO: the core protocol (publish, subscribe, queue groups,
/// headers), request/reply over one shared inbox subscription, and reconnection across a
/// cluster.
///
/// The protocol is small (a dozen line-based operations), which is why the chassis speaks
/// it itself instead of depending on a client library; JetStream is JSON over
/// request/reply on top of it (``JetStream``).
///
/// **Reconnection.** When the connection drops, the client tries every server it knows —
/// the configured ones and those the cluster advertises in `connect_urls` — with backoff,
/// until it is closed. Subscriptions survive: they are sent again on the new connection.
/// What was in flight fails at once with ``NATSError/connectionLost``, and publishes or
/// requests while disconnected fail with ``NATSError/notConnected``: callers that need
/// delivery retry (the outbox relay does, with the same `Nats-Msg-Id`, so JetStream drops
/// the duplicate).
public final class NATSClient: Sendable {
    public struct Options: Sendable {
        /// Servers to try, `nats://host:port` (user and password in the URL are sent).
        public var servers: [String]
        /// Shown by the server in its connection list.
        public var name: String
        public var connectTimeout: Duration = .seconds(2)
        public var requestTimeout: Duration = .seconds(5)
        /// Longest pause between reconnection rounds.
        public var maxReconnectWait: Duration = .seconds(2)
        /// Try the servers in random order, so a system's processes spread over the cluster
        /// instead of all crowding its first node (and all losing it together).
        public var randomize = true

        public init(servers: [String], name: String) {
            self.servers = servers
            self.name = name
        }
    }

    let options: Options
    let logger: Logger
    let state: Mutex<State>
    let inboxPrefix = "_INBOX.\(RandomID.uuid().replacingOccurrences(of: "-", with: ""))"

    struct Subscription {
        var subject: String
        var queue: String?
        var continuation: AsyncStream<NATSMessage>.Continuation
    }

    enum Status { case connecting, connected, reconnecting, closed }

    struct State {
        var status = Status.connecting
        var channel: (any Channel)?
        var servers: [Server]
        var nextServer = 0
        var nextSid = 1
        var subscriptions: [Int: Subscription] = [:]
        var pongs: [CheckedContinuation<Void, any Error>] = []
        var requests: [String: PendingRequest] = [:]
        var nextToken = 0
        var inboxSid: Int?
        var maxPayload = 1 << 20
    }

    struct PendingRequest {
        var continuation: CheckedContinuation<NATSMessage, any Error>
        var timer: LoopTimer?
    }

    struct Server: Equatable {
        var host: String
        var port: Int
        var user: String?
        var password: String?
    }

    init(options: Options, servers: [Server], logger: Logger) {
        self.options = options
        self.logger = logger
        state = Mutex(State(servers: servers))
    }

    // MARK: Publishing, subscribing, requests

    /// Sends a message; returns once it is written to the connection (NATS core gives no
    /// acknowledgement — JetStream's publish does, see ``JetStream/publish``).
    public func publish(_ subject: String, payload: ByteBuffer = ByteBuffer(), headers: [(name: String, value: String)] = [],
                        replyTo: String? = nil) async throws {
        try Self.check(subject: subject, headers: headers)
        var buffer = ByteBuffer()
        NATSClientOp.pub(subject, reply: replyTo, headers: headers, payload: payload, into: &buffer)
        try await write(buffer)
    }

    /// Messages on `subject` (wildcards allowed); with `queue`, each message goes to one
    /// member of the queue group.
    public func subscribe(_ subject: String, queue: String? = nil) async throws -> NATSSubscription {
        try Self.check(subject: subject, headers: [])
        let (stream, continuation) = AsyncStream<NATSMessage>.makeStream(bufferingPolicy: .unbounded)
        let (sid, channel) = state.withLock { state in
            let sid = state.nextSid
            state.nextSid += 1
            state.subscriptions[sid] = Subscription(subject: subject, queue: queue, continuation: continuation)
            return (sid, state.status == .connected ? state.channel : nil)
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(sid) }
        if let channel {
            var buffer = ByteBuffer()
            NATSClientOp.sub(subject, queue: queue, sid: sid, into: &buffer)
            try await channel.writeAndFlush(buffer)
        }
        return NATSSubscription(sid: sid, stream: stream, client: self)
    }

    func unsubscribe(_ sid: Int) {
        let (removed, channel) = state.withLock { state in
            (state.subscriptions.removeValue(forKey: sid), state.status == .connected ? state.channel : nil)
        }
        removed?.continuation.finish()
        guard removed != nil, let channel else { return }
        var buffer = ByteBuffer()
        NATSClientOp.unsub(sid: sid, into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Publishes with a reply subject and waits for the first answer, for at most
    /// `timeout` (default ``Options/requestTimeout``). A request nobody listens to fails
    /// at once with ``NATSError/noResponders``.
    public func request(_ subject: String, payload: ByteBuffer = ByteBuffer(), headers: [(name: String, value: String)] = [],
                        timeout: Duration? = nil) async throws -> NATSMessage {
        try Self.check(subject: subject, headers: headers)
        try await ensureInbox()
        let token = state.withLock { state in
            state.nextToken += 1
            return String(state.nextToken)
        }
        let reply = "\(inboxPrefix).\(token)"
        var buffer = ByteBuffer()
        NATSClientOp.pub(subject, reply: reply, headers: headers, payload: payload, into: &buffer)
        let limit = timeout ?? options.requestTimeout
        let answer: NATSMessage = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let channel: (any Channel)? = state.withLock { state in
                    guard state.status == .connected, let channel = state.channel else { return nil }
                    state.requests[token] = PendingRequest(continuation: continuation)
                    return channel
                }
                guard let channel else { return continuation.resume(throwing: NATSError.notConnected) }
                let timer = LoopTimer(after: limit) { [weak self] in
                    self?.finishRequest(token, with: .failure(NATSError.timedOut(subject: subject, after: limit)))
                }
                let armed = state.withLock { state in
                    guard state.requests[token] != nil else { return false }
                    state.requests[token]?.timer = timer
                    return true
                }
                if !armed { timer.cancel() }
                channel.writeAndFlush(buffer).whenComplete { [weak self] result in
                    if case .failure(let error) = result { self?.finishRequest(token, with: .failure(error)) }
                }
            }
        } onCancel: {
            finishRequest(token, with: .failure(CancellationError()))
        }
        if answer.status == 503 { throw NATSError.noResponders(subject: subject) }
        return answer
    }

    private func finishRequest(_ token: String, with result: Result<NATSMessage, any Error>) {
        guard let pending = state.withLock({ $0.requests.removeValue(forKey: token) }) else { return }
        pending.timer?.cancel()
        pending.continuation.resume(with: result)
    }

    /// Publishes with a reply subject and returns every answer as it arrives, for requests
    /// answered by several messages (a JetStream pull). Such answers keep their own
    /// subjects (a pulled message has its stream subject), so each of these requests has an
    /// inbox subscription of its own; it ends when the caller calls ``NATSReplies/finish()``.
    public func requestMany(_ subject: String, payload: ByteBuffer = ByteBuffer(),
                            headers: [(name: String, value: String)] = []) async throws -> NATSReplies {
        try Self.check(subject: subject, headers: headers)
        let inbox = newInbox()
        let subscription = try await subscribe(inbox)
        do {
            try await publish(subject, payload: payload, headers: headers, replyTo: inbox)
        } catch {
            subscription.unsubscribe()
            throw error
        }
        return NATSReplies(subscription: subscription)
    }

    /// A reply subject of this client's own that no other request or subscription uses:
    /// for answers that keep coming (``requestMany(_:payload:headers:)``, a JetStream pull).
    public func newInbox() -> String {
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        // Not under `<inbox>.*`, which the shared request subscription matches.
        return "\(inboxPrefix)-m.\(token)"
    }

    /// One subscription on `<inbox>.*` carries the answers of every request.
    private func ensureInbox() async throws {
        guard state.withLock({ $0.inboxSid == nil }) else { return }
        let subscription = try await subscribe("\(inboxPrefix).*")
        let keep = state.withLock { state in
            if state.inboxSid == nil { state.inboxSid = subscription.sid; return true }
            return false
        }
        guard keep else { unsubscribe(subscription.sid); return }
        Task { [weak self] in
            for await message in subscription.stream {
                guard let self else { return }
                let token = String(message.subject.dropFirst(self.inboxPrefix.count + 1))
                self.finishRequest(token, with: .success(message))
            }
        }
    }

    /// Returns once the server has processed everything sent before (a PING's PONG).
    public func flush() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let channel: (any Channel)? = state.withLock { state in
                guard state.status == .connected, let channel = state.channel else { return nil }
                state.pongs.append(continuation)
                return channel
            }
            guard let channel else { return continuation.resume(throwing: NATSError.notConnected) }
            var buffer = ByteBuffer()
            NATSClientOp.ping(into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    public var isConnected: Bool { state.withLock { $0.status == .connected } }

    /// How many servers a reconnection would try: configured and advertised.
    public var knownServerCount: Int { state.withLock { $0.servers.count } }

    /// The server this client is connected to now, `host:port`.
    public var connectedServer: String? {
        state.withLock { state in
            guard state.status == .connected, let address = state.channel?.remoteAddress else { return nil }
            return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }

    /// Closes the connection for good; subscriptions end, waiting calls fail.
    public func close() async {
        let (channel, subscriptions) = state.withLock { state in
            state.status = .closed
            let subscriptions = Array(state.subscriptions.values)
            state.subscriptions = [:]
            return (state.channel, subscriptions)
        }
        failPending(NATSError.closed)
        subscriptions.forEach { $0.continuation.finish() }
        try? await channel?.close()
    }

    private func write(_ buffer: ByteBuffer) async throws {
        guard let channel = state.withLock({ $0.status == .connected ? $0.channel : nil }) else { throw NATSError.notConnected }
        try await channel.writeAndFlush(buffer)
    }

    static func check(subject: String, headers: [(name: String, value: String)]) throws {
        guard NATSSubject.isValid(subject) else { throw NATSError.invalidSubject(subject) }
        for (name, value) in headers where name.isEmpty || name.contains(":")
            || (name + value).utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            throw NATSError.invalidHeader(name)
        }
    }
}
