@testable import Chassis
import ChassisTesting
import Foundation
import NIOCore
import Synchronization
import Testing

/// The protocol parser, without a server.
@Suite struct NATSProtocolTests {
    func parseAll(_ chunks: [String]) throws -> [NATSServerOp] {
        var buffer = ByteBuffer()
        var ops: [NATSServerOp] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while let op = try NATSDecoder.parse(&buffer) { ops.append(op) }
        }
        #expect(buffer.readableBytes == 0, "everything consumed")
        return ops
    }

    @Test func messagesWithAndWithoutHeadersEvenWhenSplitAnywhere() throws {
        let wire = "INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\nMSG a.b 7 _INBOX.1 12\r\nhello\r\nworld\r\n"
            + "HMSG c 8 36 39\r\nNATS/1.0\r\nNats-Msg-Id: e-1\r\nX: y\r\n\r\nabc\r\nPING\r\n+OK\r\n-ERR 'Authorization Violation'\r\n"
        // Every split point, so no operation depends on arriving in one read.
        for cut in 0...wire.utf8.count {
            let bytes = Array(wire.utf8)
            let ops = try parseAll([String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)])
            try #require(ops.count == 6, "cut at \(cut): \(ops.count) operations")
            guard case .msg(let plain) = ops[1], case .msg(let headed) = ops[2], case .err(let error) = ops[5] else {
                Issue.record("unexpected operations at cut \(cut): \(ops)"); return
            }
            #expect(plain.subject == "a.b" && plain.sid == 7 && plain.replyTo == "_INBOX.1" && plain.data == Data("hello\r\nworld".utf8))
            #expect(headed.subject == "c" && headed.sid == 8 && headed.replyTo == nil && headed.data == Data("abc".utf8))
            #expect(headed.header("nats-msg-id") == "e-1" && headed.header("X") == "y" && headed.status == nil)
            #expect(error == "Authorization Violation")
        }
    }

    @Test func aStatusLineIsReadAsStatusAndDescription() throws {
        let ops = try parseAll(["HMSG _INBOX.x.1 1 30 30\r\nNATS/1.0 503 No Responders\r\n\r\n\r\n"])
        guard case .msg(let message) = ops.first else { Issue.record("no message"); return }
        #expect(message.status == 503 && message.statusDescription == "No Responders" && message.payload.readableBytes == 0)
    }

    @Test func malformedLinesAreRefused() {
        for line in ["MSG a\r\n", "MSG a b 5\r\n", "HMSG a 1 9 3\r\n", "WHAT\r\n", "HMSG a 1 5 5\r\nHTTP/\r\n\r\n"] {
            var buffer = ByteBuffer(string: line)
            #expect(throws: NATSDecoder.Malformed.self, "\(line)") { _ = try NATSDecoder.parse(&buffer) }
        }
    }

    @Test func publishesAreWrittenAsTheProtocolSays() {
        var buffer = ByteBuffer()
        NATSClientOp.pub("s", reply: nil, headers: [], payload: ByteBuffer(string: "hi"), into: &buffer)
        NATSClientOp.pub("s", reply: "r", headers: [("Nats-Msg-Id", "1")], payload: ByteBuffer(string: "hi"), into: &buffer)
        #expect(String(buffer: buffer) == "PUB s 2\r\nhi\r\nHPUB s r 28 30\r\nNATS/1.0\r\nNats-Msg-Id: 1\r\n\r\nhi\r\n")
    }
}

/// The client against a real `nats-server`.
@Suite("NATS client", .enabled(if: TestServers.natsURL != nil || TestServers.required, "needs nats-server (scripts/infra.sh)"))
struct NATSClientTests {
    func connect(_ servers: [String]? = nil) async throws -> NATSClient {
        let url = try #require(TestServers.natsURL)
        return try await NATSClient.connect(.init(servers: servers ?? [url], name: "test"))
    }

    func unique(_ prefix: String) -> String { "\(prefix).\(RandomID.uuid().prefix(8))" }

    @Test func aPublishedMessageReachesASubscriberWithItsHeaders() async throws {
        let client = try await connect()
        let subject = unique("t")
        let subscription = try await client.subscribe("\(subject).>")
        try await client.flush()
        try await client.publish("\(subject).x", payload: ByteBuffer(string: "one"), headers: [("Nats-Msg-Id", "m-1"), ("K", "v w")])
        try await client.publish("\(subject).y", payload: ByteBuffer(string: "two"))
        var received: [NATSMessage] = []
        for await message in subscription {
            received.append(message)
            if received.count == 2 { break }
        }
        #expect(received.map(\.subject) == ["\(subject).x", "\(subject).y"])
        #expect(received.map { String(buffer: $0.payload) } == ["one", "two"])
        #expect(received[0].header("Nats-Msg-Id") == "m-1" && received[0].header("k") == "v w" && received[1].headers.isEmpty)
        await client.close()
    }

    @Test func aQueueGroupGivesEachMessageToOneMember() async throws {
        let client = try await connect()
        let subject = unique("q")
        let first = try await client.subscribe(subject, queue: "workers")
        let second = try await client.subscribe(subject, queue: "workers")
        try await client.flush()
        for n in 0..<40 { try await client.publish(subject, payload: ByteBuffer(string: String(n))) }
        try await client.flush()
        let seen = Collected()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for subscription in [first, second] {
                group.addTask { for await message in subscription { seen.withLock { $0.append(String(buffer: message.payload)) } } }
            }
            try await eventually("all 40 messages delivered") { seen.withLock { $0.count } >= 40 }
            first.unsubscribe()
            second.unsubscribe()
            try await group.waitForAll()
        }
        #expect(seen.withLock { $0.sorted() } == (0..<40).map(String.init).sorted(), "each message exactly once over the group")
        await client.close()
    }

    @Test func aRequestGetsItsReplyAndNobodyListeningFailsAtOnce() async throws {
        let client = try await connect()
        let subject = unique("svc")
        let responder = try await client.subscribe(subject)
        let serving = Task {
            for await message in responder {
                guard let reply = message.replyTo else { continue }
                try await client.publish(reply, payload: ByteBuffer(string: "re: " + String(buffer: message.payload)))
            }
        }
        try await client.flush()
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for n in 0..<20 {
                group.addTask { String(buffer: try await client.request(subject, payload: ByteBuffer(string: "\(n)")).payload) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.sorted() == (0..<20).map { "re: \($0)" }.sorted(), "concurrent requests each get their own answer")

        let started = ContinuousClock.now
        let nobody = unique("nobody")
        await #expect(throws: NATSError.noResponders(subject: nobody)) { _ = try await client.request(nobody, timeout: .seconds(20)) }
        #expect(started.duration(to: .now) < .seconds(10), "no responders is an answer, not a timeout")
        serving.cancel()
        responder.unsubscribe()
        await client.close()
    }

    @Test func aRequestWithoutAnswerTimesOut() async throws {
        let client = try await connect()
        let subject = unique("silent")
        let listener = try await client.subscribe(subject)  // Listens, never answers.
        try await client.flush()
        await #expect(throws: NATSError.timedOut(subject: subject, after: .milliseconds(200))) {
            _ = try await client.request(subject, timeout: .milliseconds(200))
        }
        listener.unsubscribe()
        await client.close()
    }

    @Test func badSubjectsAndHeadersAreRefusedBeforeSending() async throws {
        let client = try await connect()
        await #expect(throws: NATSError.invalidSubject("a b")) { try await client.publish("a b") }
        await #expect(throws: NATSError.invalidHeader("X")) { try await client.publish("a", headers: [("X", "1\r\nPUB evil 0")]) }
        await client.close()
    }

    /// The node the client is connected to dies: the client reconnects to another node it
    /// learned from the cluster, its subscription keeps delivering, requests work again.
    @Test func aKilledNodeIsLeftForAnotherAndSubscriptionsSurvive() async throws {
        try await PrivateNATSCluster.with { cluster in
            // Only the first node is configured: the others come from its INFO.
            let client = try await NATSClient.connect(.init(servers: [cluster.urls[0]], name: "failover"))
            let subject = unique("f")
            let subscription = try await client.subscribe(subject)
            let received = Collected()
            let reading = Task { for await message in subscription { received.withLock { $0.append(String(buffer: message.payload)) } } }
            try await eventually("the cluster told the client about its other nodes", timeout: .seconds(20)) {
                client.knownServerCount >= 3
            }
            try await client.publish(subject, payload: ByteBuffer(string: "before"))
            try await eventually("delivered before the crash") { received.withLock { $0 } == ["before"] }

            cluster.kill(node: 0)
            try await eventually("reconnected to another node", timeout: .seconds(30)) {
                client.isConnected && client.connectedServer?.hasSuffix(":\(cluster.urls[0].split(separator: ":").last!)") == false
            }
            try await client.publish(subject, payload: ByteBuffer(string: "after"))
            try await eventually("the subscription survived the reconnection", timeout: .seconds(10)) {
                received.withLock { $0 } == ["before", "after"]
            }
            reading.cancel()
            await client.close()
        }
    }
}

/// Strings gathered by concurrent tasks.
final class Collected: Sendable {
    private let items = Mutex<[String]>([])
    func withLock<R: Sendable>(_ body: (inout [String]) -> R) -> R { items.withLock { body(&$0) } }
}
