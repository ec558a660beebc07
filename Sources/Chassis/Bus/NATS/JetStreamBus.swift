import Foundation
import Logging
import NIOCore
import Synchronization

/// The production ``EventBus``: a NATS JetStream stream per system, replicated across the
/// cluster, with consumer-group leases in a JetStream key-value bucket.
///
/// - **Partitions are subjects**: an event of partition `p` is published to
///   `msa.<system>.p.<p>`; the stream `MSA_<SYSTEM>` holds them all. A position is the
///   event's stream sequence, so positions increase within each partition.
/// - **Publishing** waits for JetStream's acknowledgement (the event is stored on a quorum
///   of replicas) with `Nats-Msg-Id` set to the event id: a relay that re-publishes after
///   a crash, within the stream's duplicate window, is answered "duplicate" and nothing
///   is stored twice. (Past the window a duplicate is stored, and consumers' handled-event
///   records still drop it.)
/// - **Consuming**: each consumer group has one durable pull consumer per partition,
///   `<group>-p<p>`, filtered to that partition's subject, with ack policy `all`. Only the
///   member holding the partition's lease uses it. The position a consumer resumes from is
///   the one committed in its service's store with the handler's effects: when a member
///   starts on a partition (or asks for an earlier position than its consumer delivered),
///   the durable consumer is created anew to start right after that position. Fetched
///   events stay buffered until the caller has moved past them, so a handler that fails
///   is given the same event again — the partition stops rather than skipping it — until
///   the consumer parks it as a dead letter. Deliveries are counted (the consumer sequence
///   in each ack subject): a gap — deliveries sent just before the node holding the pull
///   request died, or while the connection was replaced — stops the intake there and the
///   consumer is created anew after the committed position, so the next event's ack,
///   which acknowledges everything before it, never acknowledges one that never came.
/// - **Leases**: one key per group in the bucket `MSA_<SYSTEM>_GROUPS` holds the group's
///   members and leases; ``balance(group:member:ttl:)`` changes it by compare-and-set, so
///   concurrent members never both win a partition. Expiry times are the writers' clocks:
///   keep machines' clocks within a fraction of the lease TTL (NTP does).
/// - **Retention** is the stream's maximum age, enforced by the server; ``prune(olderThan:)``
///   has nothing to do.
public final class JetStreamBus: EventBus {
    public let partitionCount: Int
    public let system: String
    public let jetStream: JetStream
    let stream: String
    let bucket: String
    let logger: Logger
    private let cursors = Mutex<[String: Cursor]>([:])
    private let held = Mutex<[String: Set<Int>]>([:])

    /// The stream's settings, used when it does not exist yet (an existing stream keeps
    /// its partitions; replicas and age are updated to these).
    public struct Settings: Sendable {
        public var partitions = 8
        /// Copies of every event in the cluster (1 for a single server, 3 in production).
        public var replicas = 1
        /// How long events are kept.
        public var maxAge: Duration = .seconds(7 * 24 * 3600)
        /// How long a `Nats-Msg-Id` is remembered to drop a re-published event.
        public var duplicateWindow: Duration = .seconds(3600)
        public init() {}
    }

    struct Cursor {
        /// The position the durable consumer was started after.
        var base: Int64
        /// Delivers the consumer's events as they are stored; opened by the first fetch that
        /// waits (a consumer's loop). Fetches that do not wait (tools, tests reading the
        /// log) pull what is stored instead, until a feed is open.
        var feed: PullFeed?
        /// Delivered events not yet passed by the caller, in order.
        var buffer: [BusRecord] = []
        /// Reply subjects that acknowledge delivered events, by position.
        var acks: [(position: Int64, reply: String)] = []
        /// The consumer sequence of the last delivery taken in.
        var delivered: Int64 = 0

        /// Takes in `messages` in delivery order, up to the first gap in the consumer's
        /// delivery sequence; the deliveries missing there, if any.
        ///
        /// A gap is deliveries the server made that never arrived: sent just before the
        /// node holding the pull request died, or while the connection was being replaced.
        /// The server counts them as delivered, and with ack policy `all` acknowledging a
        /// later event would acknowledge them too: they would be lost. So nothing from the
        /// gap on is taken, and the caller starts the consumer again from the committed
        /// position, which delivers them anew.
        mutating func takeIn(_ messages: [NATSMessage], after position: Int64, logger: Logger) -> ClosedRange<Int64>? {
            for message in messages {
                if let sequence = JetStream.consumerSequence(of: message) {
                    if sequence <= delivered { continue }  // already taken in
                    guard sequence == delivered + 1 else { return (delivered + 1)...(sequence - 1) }
                    delivered = sequence
                }
                guard let record = JetStreamBus.record(message) else {
                    logger.warning("skipped a message that is not an event", metadata: ["subject": "\(message.subject)"])
                    continue
                }
                if let reply = message.replyTo { acks.append((record.position, reply)) }
                if record.position > position, record.position > (buffer.last?.position ?? 0) { buffer.append(record) }
            }
            return nil
        }
    }

    private init(system: String, jetStream: JetStream, partitions: Int, logger: Logger) {
        self.system = system
        self.jetStream = jetStream
        self.partitionCount = partitions
        self.stream = "MSA_\(system.uppercased())"
        self.bucket = "MSA_\(system.uppercased())_GROUPS"
        self.logger = logger
    }

    /// Connects to `servers` (`nats://host:port`, any of the cluster) and creates or
    /// updates the system's stream and lease bucket.
    public static func connect(servers: [String], system: String, settings: Settings = Settings(), name: String,
                               logger: Logger = Logger(label: "jetstream")) async throws -> JetStreamBus {
        let client = try await NATSClient.connect(.init(servers: servers, name: name), logger: logger)
        do {
            let jetStream = JetStream(client: client)
            let stream = "MSA_\(system.uppercased())"
            var partitions = settings.partitions
            if let info = try await jetStream.streamInfo(stream),
               let description = info["config"]?["description"]?.stringValue,
               let stored = description.split(separator: "=").last.flatMap({ Int($0) }) {
                partitions = stored
            }
            try await jetStream.ensureStream([
                "name": .string(stream), "subjects": [.string("msa.\(system).p.*")], "retention": "limits", "storage": "file",
                "num_replicas": .number(Double(settings.replicas)), "max_age": .number(Double(settings.maxAge.wholeNanoseconds)),
                "duplicate_window": .number(Double(min(settings.duplicateWindow, settings.maxAge).wholeNanoseconds)),
                "discard": "old", "description": .string("partitions=\(partitions)"),
            ])
            try await jetStream.ensureBucket("MSA_\(system.uppercased())_GROUPS", replicas: settings.replicas)
            return JetStreamBus(system: system, jetStream: jetStream, partitions: partitions, logger: logger)
        } catch {
            await client.close()
            throw error
        }
    }

    func subject(_ partition: Int) -> String { "msa.\(system).p.\(partition)" }
    func consumer(_ group: String, _ partition: Int) -> String { "\(group)-p\(partition)" }

    // MARK: Publishing

    public func publish(_ envelopes: [EventEnvelope]) async throws {
        for envelope in envelopes {
            var headers: [(name: String, value: String)] = [
                ("Msa-Type", envelope.type), ("Msa-Source", envelope.source), ("Msa-Time", String(envelope.time)), ("Msa-Key", envelope.key),
            ]
            if let traceparent = envelope.traceparent { headers.append(("traceparent", traceparent)) }
            _ = try await jetStream.publish(subject(envelope.partition(of: partitionCount)), payload: ByteBuffer(data: envelope.payload),
                                        headers: headers, messageId: envelope.id)
        }
    }

    static func record(_ message: NATSMessage) -> BusRecord? {
        guard let position = JetStream.streamSequence(of: message), let id = message.header("Nats-Msg-Id"),
              let type = message.header("Msa-Type"), let source = message.header("Msa-Source"),
              let time = message.header("Msa-Time").flatMap(Int64.init), let key = message.header("Msa-Key") else { return nil }
        return BusRecord(position: position, envelope: EventEnvelope(id: id, type: type, source: source, time: time, key: key,
                                                                     traceparent: message.header("traceparent"), payload: message.data))
    }

    // MARK: Consuming

    public func fetch(group: String, partition: Int, after position: Int64, limit: Int, wait: Duration) async throws -> [BusRecord] {
        let key = "\(group)/\(partition)"
        let buffered: [BusRecord]? = cursors.withLock { cursors in
            guard var cursor = cursors[key], cursor.base <= position else { return nil }
            cursor.buffer.removeAll { $0.position <= position }
            cursors[key] = cursor
            return cursor.buffer
        }
        if buffered == nil { try await startConsumer(group: group, partition: partition, after: position) }
        let ready = buffered ?? []
        if ready.count >= limit { return Array(ready.prefix(limit)) }

        let messages: [NATSMessage]
        var feed = cursors.withLock { $0[key]?.feed }
        do {
            if feed == nil && wait > .zero {
                let opened = try await PullFeed.start(jetStream, stream: stream, consumer: consumer(group, partition))
                let kept = cursors.withLock { cursors in
                    guard cursors[key] != nil, cursors[key]?.feed == nil else { return false }
                    cursors[key]?.feed = opened
                    return true
                }
                if kept { feed = opened } else { opened.close() }
            }
            if let feed {
                messages = try await feed.take(limit: limit - ready.count, wait: ready.isEmpty ? wait : .zero)
            } else {
                messages = try await jetStream.pull(stream: stream, consumer: consumer(group, partition), batch: limit - ready.count,
                                                    expires: .zero)
            }
        } catch {
            // The consumer was deleted or recreated under us (the partition moved), or the
            // feed lost its request: start over from the committed position next time.
            dropCursor(key)
            throw error
        }
        let (taken, gap) = cursors.withLock { cursors -> ([BusRecord], ClosedRange<Int64>?) in
            guard var cursor = cursors[key], cursor.feed === feed else { return (ready, nil) }
            let gap = cursor.takeIn(messages, after: position, logger: logger)
            cursors[key] = cursor
            return (Array(cursor.buffer.prefix(limit)), gap)
        }
        if let gap {
            logger.warning("deliveries never arrived: the consumer starts again from the committed position",
                           metadata: ["group": "\(group)", "partition": "\(partition)", "deliveries": "\(gap)"])
            // What came before the gap is handed on; the next fetch recreates the consumer
            // after whatever the caller then committed.
            dropCursor(key)
        }
        return taken
    }

    /// (Re)creates the group's durable consumer of `partition` to deliver what follows `position`.
    private func startConsumer(group: String, partition: Int, after position: Int64) async throws {
        let name = consumer(group, partition)
        do {
            try await jetStream.api("CONSUMER.DELETE.\(stream).\(name)")
        } catch let error as JetStreamError where error.errorCode == JetStreamError.consumerNotFound || error.code == 404 {}
        var config: [String: JSONValue] = [
            "durable_name": .string(name), "ack_policy": "all", "filter_subject": .string(subject(partition)),
            "ack_wait": .number(Double(Duration.seconds(30).wholeNanoseconds)), "max_ack_pending": 10_000,
            "replay_policy": "instant", "max_deliver": -1,
        ]
        if position > 0 {
            config["deliver_policy"] = "by_start_sequence"
            config["opt_start_seq"] = .number(Double(position + 1))
        } else {
            config["deliver_policy"] = "all"
        }
        try await jetStream.api("CONSUMER.DURABLE.CREATE.\(stream).\(name)", ["stream_name": .string(stream), "config": .object(config)])
        let replaced = cursors.withLock { $0.updateValue(Cursor(base: position), forKey: "\(group)/\(partition)") }
        replaced?.feed?.close()
    }

    private func dropCursor(_ key: String) {
        cursors.withLock { $0.removeValue(forKey: key) }?.feed?.close()
    }

    public func acknowledge(group: String, partition: Int, through position: Int64) async throws {
        let reply: String? = cursors.withLock { cursors in
            guard var cursor = cursors["\(group)/\(partition)"] else { return nil }
            let last = cursor.acks.last { $0.position <= position }?.reply
            cursor.acks.removeAll { $0.position <= position }
            cursors["\(group)/\(partition)"] = cursor
            return last
        }
        if let reply {
            // Ack policy `all`: acknowledging the last handled event acknowledges those before
            // it. Sent as a request, so it returns once the server has recorded it.
            _ = try await jetStream.client.request(reply, payload: ByteBuffer(string: "+ACK"))
            return
        }
        // Nothing up to `position` was delivered through this process (the group's member
        // restarted, or acknowledges a position it committed elsewhere): move the consumer's
        // start past it, never back.
        let info = try await consumerInfo(group, partition)
        let floor = info.map { info in
            max(info["ack_floor"]?["stream_seq"]?.int64Value ?? 0, (info["config"]?["opt_start_seq"]?.int64Value ?? 1) - 1)
        }
        if let floor, floor >= position { return }
        try await startConsumer(group: group, partition: partition, after: position)
    }

    private func consumerInfo(_ group: String, _ partition: Int) async throws -> JSONValue? {
        do {
            return try await jetStream.api("CONSUMER.INFO.\(stream).\(consumer(group, partition))")
        } catch let error as JetStreamError where error.errorCode == JetStreamError.consumerNotFound || error.code == 404 {
            return nil
        }
    }

    /// Per partition, the events the group has not acknowledged: its consumer's pending and
    /// unacknowledged events, or every event of the partition when it has none yet.
    public func lag(group: String) async throws -> [Int: Int64] {
        var lag: [Int: Int64] = [:]
        var counts: [String: Int64]?
        for partition in 0..<partitionCount {
            if let info = try await consumerInfo(group, partition) {
                lag[partition] = (info["num_pending"]?.int64Value ?? 0) + (info["num_ack_pending"]?.int64Value ?? 0)
                continue
            }
            if counts == nil {
                let info = try await jetStream.api("STREAM.INFO.\(stream)", ["subjects_filter": .string("msa.\(system).p.*")])
                var found: [String: Int64] = [:]
                if case .object(let subjects)? = info["state"]?["subjects"] {
                    for (subject, count) in subjects { found[subject] = count.int64Value ?? 0 }
                }
                counts = found
            }
            lag[partition] = counts?[subject(partition)] ?? 0
        }
        return lag
    }

    // MARK: Leases

    /// A group's members and leases, the value of its key in the bucket.
    struct GroupState: Codable, Equatable {
        var members: [String: Int64] = [:]
        var leases: [String: Lease] = [:]
        struct Lease: Codable, Equatable {
            var member: String
            var expires: Int64
        }
    }

    public func balance(group: String, member: String, ttl: Duration) async throws -> Set<Int> {
        let mine = try await update(group) { state, now -> Set<Int> in
            state.members = state.members.filter { $0.value > now && !GroupMember.isEarlierIncarnation($0.key, of: member) }
            if state.members.keys.contains(where: { GroupMember.isEarlierIncarnation(member, of: $0) }) {
                // Superseded: a later incarnation of this slot runs.
                state.members[member] = nil
                state.leases = state.leases.filter { $0.value.member != member }
                return []
            }
            state.members[member] = now + ttl.wholeMilliseconds
            let share = (partitionCount + state.members.count - 1) / state.members.count
            state.leases = state.leases.filter { $0.value.expires > now && state.members[$0.value.member] != nil }
            var mine = state.leases.filter { $0.value.member == member }.keys.compactMap(Int.init).sorted()
            while mine.count > share, let extra = mine.popLast() { state.leases[String(extra)] = nil }
            for partition in 0..<partitionCount where mine.count < share && state.leases[String(partition)] == nil {
                mine.append(partition)
            }
            for partition in mine { state.leases[String(partition)] = .init(member: member, expires: now + ttl.wholeMilliseconds) }
            return Set(mine)
        }
        // Partitions newly held start from the committed position, not from a cursor this
        // process may have left behind when it held them before.
        let gained = held.withLock { held in
            defer { held["\(group)/\(member)"] = mine }
            return mine.subtracting(held["\(group)/\(member)"] ?? [])
        }
        for partition in gained { dropCursor("\(group)/\(partition)") }
        return mine
    }

    public func leave(group: String, member: String) async throws {
        _ = try await update(group) { state, _ in
            state.members[member] = nil
            state.leases = state.leases.filter { $0.value.member != member }
        }
        held.withLock { $0["\(group)/\(member)"] = nil }
    }

    /// Reads the group's state, applies `change`, and writes it back if nobody wrote in
    /// between; otherwise reads again and retries.
    private func update<R>(_ group: String, _ change: (inout GroupState, Int64) -> R) async throws -> R {
        let key = "group-\(group)"
        for attempt in 1...50 {
            let current = try await jetStream.get(bucket: bucket, key: key)
            var state = try current.map { try JSONDecoder().decode(GroupState.self, from: $0.value) } ?? GroupState()
            let result = change(&state, Clock.millis())
            if try await jetStream.put(bucket: bucket, key: key, value: JSON.encode(state), ifRevision: current?.revision ?? 0) != nil {
                return result
            }
            try await LoopTimer.sleep(for: Backoff.delay(attempt: attempt, base: .milliseconds(5), cap: .milliseconds(200)))
        }
        throw JetStreamError(code: 409, errorCode: JetStreamError.wrongLastSequence, description: "could not update group \(group): too much contention")
    }

    // MARK: Operations

    /// JetStream drops events older than the stream's maximum age by itself.
    public func prune(olderThan age: Duration) async throws -> Int { 0 }

    public func ping() async throws {
        try await jetStream.api("INFO")
    }

    public func close() async {
        for cursor in cursors.withLock({ $0.values }) { cursor.feed?.close() }
        await jetStream.client.close()
    }
}
