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
    private let state: Mutex<State>
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

    private init(options: Options, servers: [Server], logger: Logger) {
        self.options = options
        self.logger = logger
        state = Mutex(State(servers: servers))
    }

    /// Connects to the first reachable server of `options.servers`.
    public static func connect(_ options: Options, logger: Logger = Logger(label: "nats")) async throws -> NATSClient {
        var servers = try options.servers.flatMap { try parse(servers: $0) }
        guard !servers.isEmpty else { throw NATSError.invalidURL("no server given") }
        if options.randomize { servers.shuffle() }
        let client = NATSClient(options: options, servers: servers, logger: logger)
        var lastError: (any Error)?
        for server in servers {
            do {
                try await client.open(server)
                return client
            } catch {
                lastError = error
            }
        }
        throw lastError ?? NATSError.notConnected
    }

    /// `nats://[user:password@]host[:port]`, several separated by commas.
    static func parse(servers text: String) throws -> [Server] {
        try text.split(separator: ",").map { part in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            let withScheme = trimmed.contains("://") ? trimmed : "nats://\(trimmed)"
            guard let url = URLComponents(string: withScheme), url.scheme == "nats", let host = url.host, !host.isEmpty else {
                throw NATSError.invalidURL(trimmed)
            }
            return Server(host: host, port: url.port ?? 4222, user: url.user, password: url.password)
        }
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

    // MARK: Connection

    /// Connects to `server`: waits for its INFO, sends CONNECT and every subscription,
    /// and counts as connected once the server answered a PING.
    private func open(_ server: Server) async throws {
        let handshake = Handshake()
        // Whatever happens, the handshake's promises end (completing one twice is a no-op).
        defer { handshake.fail(NATSError.connectionLost) }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(options.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NATSDecoder()))
                    try channel.pipeline.syncOperations.addHandler(NATSInboundHandler(client: self, handshake: handshake))
                }
            }
            .connect(host: server.host, port: server.port).get()
        do {
            guard let info = try await LoopTimer.withTimeout(options.connectTimeout, { try await handshake.info.futureResult.get() }) else {
                throw NATSError.timedOut(subject: "INFO", after: options.connectTimeout)
            }
            learn(from: info)
            var connect: [String: JSONValue] = [
                "verbose": false, "pedantic": false, "headers": true, "no_responders": true, "protocol": 1,
                "lang": "swift", "version": "msa", "name": .string(options.name),
            ]
            if let user = server.user { connect["user"] = .string(user) }
            if let password = server.password { connect["pass"] = .string(password) }
            var buffer = ByteBuffer()
            try NATSClientOp.connect(connect, into: &buffer)
            for (sid, subscription) in state.withLock({ $0.subscriptions }) {
                NATSClientOp.sub(subscription.subject, queue: subscription.queue, sid: sid, into: &buffer)
            }
            NATSClientOp.ping(into: &buffer)
            try await channel.writeAndFlush(buffer)
            guard try await LoopTimer.withTimeout(options.connectTimeout, { try await handshake.pong.futureResult.get() }) != nil else {
                throw NATSError.timedOut(subject: "CONNECT", after: options.connectTimeout)
            }
        } catch {
            try? await channel.close()
            throw error
        }
        let stale: (any Channel)? = state.withLock { state in
            guard state.status != .closed else { return channel }
            state.channel = channel
            state.status = .connected
            return nil
        }
        if let stale { try? await stale.close(); throw NATSError.closed }
        logger.info("connected to NATS", metadata: ["server": "\(server.host):\(server.port)"])
    }

    /// Adds the servers a cluster advertises, so a reconnection can reach any of them.
    private func learn(from info: Data) {
        guard let value = try? JSON.parse(info) else { return }
        state.withLock { state in
            if let max = value["max_payload"]?.int64Value { state.maxPayload = Int(max) }
            guard case .array(let urls)? = value["connect_urls"] else { return }
            let template = state.servers.first
            for case .string(let address) in urls {
                guard let parsed = try? Self.parse(servers: address).first else { continue }
                let server = Server(host: parsed.host, port: parsed.port, user: template?.user, password: template?.password)
                if !state.servers.contains(server) { state.servers.append(server) }
            }
        }
    }

    func handle(_ op: NATSServerOp, from channel: any Channel) {
        switch op {
        case .msg(let message):
            let continuation = state.withLock { $0.subscriptions[message.sid]?.continuation }
            continuation?.yield(message)
        case .ping:
            var buffer = ByteBuffer()
            NATSClientOp.pong(into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
        case .pong:
            let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
                state.channel === channel && !state.pongs.isEmpty ? state.pongs.removeFirst() : nil
            }
            waiter?.resume()
        case .err(let message):
            logger.warning("NATS server error", metadata: ["error": "\(message)"])
        case .info(let info):
            learn(from: info)
        case .ok:
            break
        }
    }

    /// The connection ended: unless closed on purpose, fail what was in flight and
    /// reconnect in the background.
    func lost(_ channel: any Channel) {
        let reconnect = state.withLock { state in
            guard state.channel === channel, state.status == .connected else { return false }
            state.status = .reconnecting
            state.channel = nil
            return true
        }
        guard reconnect else { return }
        failPending(NATSError.connectionLost)
        logger.warning("NATS connection lost, reconnecting")
        Task { await reconnectLoop() }
    }

    private func failPending(_ error: NATSError) {
        let (pongs, requests) = state.withLock { state in
            defer { state.pongs = []; state.requests = [:] }
            return (state.pongs, Array(state.requests.values))
        }
        pongs.forEach { $0.resume(throwing: error) }
        for request in requests {
            request.timer?.cancel()
            request.continuation.resume(throwing: error)
        }
    }

    private func reconnectLoop() async {
        var round = 0
        while state.withLock({ $0.status == .reconnecting }) {
            let servers = state.withLock { state in
                defer { state.nextServer += 1 }
                return state.servers.indices.map { state.servers[($0 + state.nextServer) % state.servers.count] }
            }
            for server in servers {
                do {
                    try await open(server)
                    return
                } catch {
                    logger.debug("NATS reconnection failed", metadata: ["server": "\(server.host):\(server.port)", "error": "\(error)"])
                }
                if state.withLock({ $0.status == .closed }) { return }
            }
            round += 1
            try? await LoopTimer.sleep(for: Backoff.delay(attempt: round, base: .milliseconds(50), cap: options.maxReconnectWait))
        }
    }
}
