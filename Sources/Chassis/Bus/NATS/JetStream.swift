import Foundation
import NIOCore

/// The JetStream API: JSON requests to `$JS.API.…` over a ``NATSClient``, publishing with
/// acknowledgements, pull consumers, and a key-value bucket (a stream with one message per
/// subject) with compare-and-set.
public struct JetStream: Sendable {
    public let client: NATSClient
    public var timeout: Duration

    public init(client: NATSClient, timeout: Duration = .seconds(5)) {
        self.client = client
        self.timeout = timeout
    }

    // MARK: API calls

    /// Calls `$JS.API.<endpoint>`; an answer carrying `error` throws ``JetStreamError``.
    @discardableResult
    public func api(_ endpoint: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        let payload = try body.map { ByteBuffer(data: try JSON.encode($0)) } ?? ByteBuffer()
        let answer = try await client.request("$JS.API.\(endpoint)", payload: payload, timeout: timeout)
        return try Self.decode(answer)
    }

    static func decode(_ message: NATSMessage) throws -> JSONValue {
        let value = try JSONParser.parse(message.data)
        if let error = value["error"] {
            throw JetStreamError(code: Int(error["code"]?.int64Value ?? 0), errorCode: Int(error["err_code"]?.int64Value ?? 0),
                                 description: error["description"]?.stringValue ?? "unknown JetStream error")
        }
        return value
    }

    /// Creates the stream, or updates it to `config` when it exists with another one.
    @discardableResult
    public func ensureStream(_ config: JSONValue) async throws -> JSONValue {
        guard let name = config["name"]?.stringValue else { throw JetStreamError(code: 400, errorCode: 0, description: "a stream needs a name") }
        do {
            return try await api("STREAM.CREATE.\(name)", config)
        } catch let error as JetStreamError where error.errorCode == JetStreamError.streamNameInUse {
            return try await api("STREAM.UPDATE.\(name)", config)
        }
    }

    /// The stream's info, or nil when there is no such stream.
    public func streamInfo(_ name: String) async throws -> JSONValue? {
        do { return try await api("STREAM.INFO.\(name)") } catch let error as JetStreamError where error.errorCode == JetStreamError.streamNotFound {
            return nil
        }
    }

    // MARK: Publishing

    public struct PubAck: Sendable, Equatable {
        public var stream: String
        public var sequence: Int64
        /// The server already had a message with this `Nats-Msg-Id` within the stream's
        /// duplicate window, and dropped this one.
        public var duplicate: Bool
    }

    /// Publishes durably: returns once the stream stored the message (on a quorum of its
    /// replicas). `messageId` makes a re-publish within the duplicate window a no-op.
    /// `expectedLastSubjectSequence` makes the publish conditional (compare-and-set).
    public func publish(_ subject: String, payload: ByteBuffer, headers: [(name: String, value: String)] = [],
                        messageId: String? = nil, expectedLastSubjectSequence: Int64? = nil) async throws -> PubAck {
        var all = headers
        if let messageId { all.append(("Nats-Msg-Id", messageId)) }
        if let expected = expectedLastSubjectSequence { all.append(("Nats-Expected-Last-Subject-Sequence", String(expected))) }
        let answer = try await client.request(subject, payload: payload, headers: all, timeout: timeout)
        let value = try Self.decode(answer)
        guard let stream = value["stream"]?.stringValue, let sequence = value["seq"]?.int64Value else {
            throw JetStreamError(code: 500, errorCode: 0, description: "malformed publish acknowledgement: \(String(buffer: answer.payload))")
        }
        return PubAck(stream: stream, sequence: sequence, duplicate: value["duplicate"] == .bool(true))
    }

    // MARK: Pull consumers

    /// Up to `batch` messages from the durable pull consumer, waiting up to `expires` for
    /// the first ones (not at all when zero). Each message's reply subject acknowledges it.
    public func pull(stream: String, consumer: String, batch: Int, expires: Duration) async throws -> [NATSMessage] {
        var request: [String: JSONValue] = ["batch": .number(Double(batch))]
        if expires > .zero {
            request["expires"] = .number(Double(max(expires, .milliseconds(1)).wholeNanoseconds))
        } else {
            request["no_wait"] = true
        }
        let replies = try await client.requestMany("$JS.API.CONSUMER.MSG.NEXT.\(stream).\(consumer)",
                                                   payload: ByteBuffer(data: try JSON.encode(JSONValue.object(request))))
        defer { replies.finish() }
        // The server ends a pull that did not fill its batch with a status message; the
        // local deadline only guards against a lost connection's silence.
        let deadline = LoopTimer(after: expires + timeout) { replies.finish() }
        defer { deadline.cancel() }
        var messages: [NATSMessage] = []
        for await message in replies {
            if let status = message.status {
                // 404 no messages, 408 expired, 409 e.g. consumer deleted: the pull is over.
                if status == 409, message.statusDescription?.lowercased().contains("deleted") == true {
                    throw JetStreamError(code: 409, errorCode: 0, description: message.statusDescription ?? "consumer deleted")
                }
                if status == 100 { continue }  // Idle heartbeat.
                break
            }
            messages.append(message)
            if messages.count >= batch { break }
        }
        return messages
    }

    /// The stream sequence of a message delivered by a consumer, from its reply subject
    /// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`
    /// (with an optional domain and account hash in front in newer servers).
    public static func streamSequence(of message: NATSMessage) -> Int64? {
        guard let reply = message.replyTo, reply.hasPrefix("$JS.ACK.") else { return nil }
        let tokens = reply.split(separator: ".")
        // 9 tokens: $JS.ACK.<stream>.<consumer>.<delivered>.<seq>…; 11 or more: a domain and
        // an account hash come before the stream, so the sequence is two tokens later.
        guard tokens.count >= 9 else { return nil }
        return Int64(tokens[tokens.count == 9 ? 5 : 7])
    }

    /// The consumer's delivery sequence of a message it delivered (its ack subject's
    /// `<consumer seq>`): one more for each delivery, redeliveries included, so a gap means
    /// deliveries that never arrived.
    public static func consumerSequence(of message: NATSMessage) -> Int64? {
        guard let reply = message.replyTo, reply.hasPrefix("$JS.ACK.") else { return nil }
        let tokens = reply.split(separator: ".")
        guard tokens.count >= 9 else { return nil }
        return Int64(tokens[tokens.count == 9 ? 6 : 8])
    }

    /// Acknowledges `message` (with ack policy `all`, everything delivered before it too).
    public func ack(_ message: NATSMessage) async throws {
        guard let reply = message.replyTo else { return }
        try await client.publish(reply, payload: ByteBuffer(string: "+ACK"))
    }

    /// Hands `message` back: the server delivers it again, after `delay` if given. The
    /// bus does not need it — a consumer keeps a failing event and retries it itself, and
    /// a partition that moves restarts from the committed position — but a consumer of
    /// its own may.
    public func nak(_ message: NATSMessage, delay: Duration? = nil) async throws {
        guard let reply = message.replyTo else { return }
        let body = delay.map { "-NAK {\"delay\": \($0.wholeNanoseconds)}" } ?? "-NAK"
        _ = try await client.request(reply, payload: ByteBuffer(string: body))
    }

    // MARK: Key-value buckets

    /// A bucket keeping the latest value of each key (JetStream's KV layout, so the
    /// `nats kv` tool can read it).
    public func ensureBucket(_ bucket: String, replicas: Int) async throws {
        try await ensureStream([
            "name": .string("KV_\(bucket)"), "subjects": [.string("$KV.\(bucket).>")], "retention": "limits",
            "max_msgs_per_subject": 1, "discard": "new", "storage": "file", "num_replicas": .number(Double(replicas)),
            "allow_rollup_hdrs": true, "deny_delete": true, "allow_direct": false,
        ])
    }

    /// The value of `key` and its revision (the sequence to expect in a compare-and-set),
    /// or nil when the key was never written.
    public func get(bucket: String, key: String) async throws -> (value: Data, revision: Int64)? {
        do {
            let answer = try await api("STREAM.MSG.GET.KV_\(bucket)", ["last_by_subj": .string("$KV.\(bucket).\(key)")])
            guard let message = answer["message"], let sequence = message["seq"]?.int64Value else { return nil }
            let data = message["data"]?.stringValue.flatMap { Data(base64Encoded: $0) } ?? Data()
            return (data, sequence)
        } catch let error as JetStreamError where error.errorCode == JetStreamError.noMessageFound {
            return nil
        }
    }

    /// Writes `value` if the key's revision is still `revision` (0: the key must not
    /// exist); returns the new revision, or nil when someone else wrote first.
    public func put(bucket: String, key: String, value: Data, ifRevision revision: Int64) async throws -> Int64? {
        do {
            return try await publish("$KV.\(bucket).\(key)", payload: ByteBuffer(data: value), expectedLastSubjectSequence: revision).sequence
        } catch let error as JetStreamError where error.errorCode == JetStreamError.wrongLastSequence {
            return nil
        }
    }
}

public struct JetStreamError: Error, CustomStringConvertible, Equatable {
    public var code: Int
    public var errorCode: Int
    public var description: String

    static let streamNameInUse = 10058
    static let streamNotFound = 10059
    static let consumerNotFound = 10014
    static let noMessageFound = 10037
    static let wrongLastSequence = 10071
}
