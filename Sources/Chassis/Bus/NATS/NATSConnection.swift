import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A ``NATSClient``'s connection: connecting to one of the cluster's servers (the
/// handshake, and every subscription sent again), the server's operations as they arrive,
/// and reconnecting when the connection drops.
extension NATSClient {
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

    func failPending(_ error: NATSError) {
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
