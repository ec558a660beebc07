import AsyncHTTPClient
import Chassis
import Foundation
import HummingbirdTesting
import Synchronization
import Testing

/// One service hosted on a temporary store and log, driven through Hummingbird's router
/// harness (``withService(_:system:environment:_:)``). Events reach its policies through
/// ``deliver(_:from:)``; nothing runs in the background (a test runs the undo job by hand
/// with `host.undoPendingCalls()`), so what a test sees is exactly what its requests and
/// events did.
public struct ServiceRig: Sendable {
    public let host: ServiceHost
    public let store: any Store
    public let client: any TestClientProtocol

    // MARK: Requests

    /// Sends `body` verbatim (so tests can send malformed JSON) and parses the answer, as
    /// one of the system's services would: with its internal credential (``InternalRoute``).
    public func send(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> Reply {
        var headers: HTTPFields = body == nil ? [:] : [.contentType: "application/json"]
        if let token = InternalRoute.token(in: host.settings.environment) { headers[InternalRoute.header] = token }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let data = Data(response.body.readableBytesView)
        return Reply(status: response.status, headers: response.headers, json: data.isEmpty ? .null : try JSON.parse(data))
    }

    public func get(_ uri: String) async throws -> Reply { try await send(.get, uri) }
    public func post(_ uri: String, _ body: JSONValue) async throws -> Reply { try await send(.post, uri, body.text) }
    public func patch(_ uri: String, _ body: JSONValue) async throws -> Reply { try await send(.patch, uri, body.text) }
    public func put(_ uri: String, _ body: JSONValue) async throws -> Reply { try await send(.put, uri, body.text) }
    public func delete(_ uri: String) async throws -> Reply { try await send(.delete, uri) }

    /// Sends a request the service must refuse and checks the refusal: `status`, a JSON
    /// error that names `field` (when given), and not one document or event changed.
    @discardableResult
    public func expectRefusal(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil, status: Int, field: String? = nil,
                       saying words: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Reply {
        let before = try await snapshot()
        let reply = try await send(method, uri, body)
        #expect(reply.status.code == status, "\(method) \(uri) answered \(reply.status.code): \(reply.json)", sourceLocation: sourceLocation)
        #expect(reply.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        #expect(reply.json["status"] == .number(Double(status)), sourceLocation: sourceLocation)
        #expect(!(reply.error ?? "").isEmpty, "the refusal carries no error message", sourceLocation: sourceLocation)
        if let field { #expect(reply.json["field"] == .string(field), "\(reply.json)", sourceLocation: sourceLocation) }
        if let words { #expect(reply.error?.contains(words) == true, "\(reply.error ?? "") lacks \"\(words)\"", sourceLocation: sourceLocation) }
        #expect(try await snapshot() == before, "a refused \(method) \(uri) changed the store or the outbox", sourceLocation: sourceLocation)
        return reply
    }

    // MARK: State

    /// Every document of the service and every event in its outbox (no relay runs here,
    /// so the outbox holds everything the service ever published).
    /// Reads the SQLite store only (it lists its collections).
    public func snapshot() async throws -> Snapshot {
        guard let store = store as? SQLiteStore else { throw ConformanceFailure("a snapshot lists the collections of a SQLite store") }
        var documents: [String: [StoredDocument]] = [:]
        for collection in try await store.collections() {
            documents[collection] = try await store.documents(collection, DocumentQuery(limit: 100_000))
        }
        return Snapshot(documents: documents, outbox: try await store.pendingOutbox(limit: 100_000))
    }

    /// The events of type `E` the service published, oldest first.
    public func published<E: DomainEvent>(_ type: E.Type) async throws -> [E] {
        try await store.pendingOutbox(limit: 100_000).map(\.envelope).filter { $0.type == E.eventType }.map { try $0.decode(E.self) }
    }

    /// How many events of any type the service published.
    public func publishedCount() async throws -> Int { try await store.outboxBacklog() }

    /// Hands `event` to the service's policy for it, in one transaction, as its consumer
    /// would. Throws if the service has no policy for the event or the policy fails.
    public func deliver<E: DomainEvent>(_ event: E, from source: String) async throws {
        let envelope = try EventEnvelope(event, source: source)
        guard let handler = host.definition.policies.handler(for: envelope.type) else {
            throw ConformanceFailure("\(host.definition.name) has no policy for \(envelope.type)")
        }
        try await store.write { tx in
            _ = try await tx.recordHandled(eventId: envelope.id, by: host.definition.name)
            try await handler(envelope, tx)
        }
    }
}

public struct Snapshot: Equatable, Sendable {
    public var documents: [String: [StoredDocument]]
    public var outbox: [OutboxEntry]
}

/// An answer of the service: status, headers and the body as JSON.
public struct Reply: Sendable {
    public let status: HTTPResponse.Status
    public let headers: HTTPFields
    public let json: JSONValue

    public var error: String? { json["error"]?.stringValue }
    /// The items of a HAL collection.
    public func embedded(_ collection: String) -> [JSONValue] {
        if case .array(let items)? = json["_embedded"]?[collection] { items } else { [] }
    }
    public var totalElements: Int? { json["page"]?["totalElements"]?.int64Value.map(Int.init) }
}

/// Hosts `definition` (a service of `system`) on a fresh temporary store and log with
/// `environment` as its configuration, runs `body` against its router, and removes
/// everything afterwards.
public func withService(_ definition: ServiceDefinition, system: String, environment: [String: String] = [:],
                        _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
    try await withTemporaryDirectory { directory in
        let store = try directory.makeSQLiteStore(service: definition.name)
        let log = try directory.makeSQLiteLog()
        do {
            try await withService(definition, system: system, environment: environment, store: store, bus: log, body)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}

/// Hosts `definition` on the given store and bus (a test's PostgreSQL schema and
/// JetStream stream, say), which stay open: their owner closes them.
public func withService(_ definition: ServiceDefinition, system: String, environment: [String: String] = [:],
                        store: any Store, bus: any EventBus, _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
    // The rig plays the system's other services: it has the internal credential.
    let environment = [InternalRoute.setting: "rig-internal-token"].merging(environment) { _, given in given }
    let settings = HostSettings(system: system, port: 0, dataDirectory: FileManager.default.temporaryDirectory.path, environment: environment)
    let host = try ServiceHost(definition, settings: settings, store: store, bus: bus, logger: quietLogger)
    let app = Application(router: host.router(), logger: quietLogger)
    try await app.test(.router) { client in try await body(ServiceRig(host: host, store: store, client: client)) }
}

extension JSONValue {
    /// This object with `changes` laid over it (a test's variation of a seed body).
    public func with(_ changes: JSONValue) -> JSONValue { merged(with: changes) }

    public func without(_ key: String) -> JSONValue {
        guard case .object(var fields) = self else { return self }
        fields[key] = nil
        return .object(fields)
    }

    public var text: String { (try? JSON.encodeString(self)) ?? "" }
}

/// A request body a service must refuse, with what the refusal must say.
public struct BadInput: Sendable, CustomTestStringConvertible {
    public let name: String
    public let body: String
    public let status: Int
    public let field: String?

    public init(_ description: String, _ body: JSONValue, status: Int = 400, field: String? = nil) {
        self.init(description, raw: body.text, status: status, field: field)
    }

    public init(_ description: String, raw body: String, status: Int = 400, field: String? = nil) {
        name = description
        self.body = body
        self.status = status
        self.field = field
    }

    public var testDescription: String { name }
}

// MARK: - Live servers

/// Serves `router` on a free loopback port while `body` runs, then stops it.
public func withLiveServer<T>(_ router: Router<BasicRequestContext>, port: Int = 0, _ body: (_ port: Int) async throws -> T) async throws -> T {
    let (ports, portFound) = AsyncStream.makeStream(of: Int.self)
    let app = Application(router: router, server: HTTPEdge.server, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                          onServerRunning: { channel in portFound.yield(channel.localAddress?.port ?? 0) },
                          logger: quietLogger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.run() }
        defer { group.cancelAll() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return try await body(port)
    }
}

/// Reads the Server-Sent Events stream at `url` (a live server's: the router harness
/// waits for a response's end): runs `whenConnected` once the stream says it is
/// connected, then reads until the text received holds `end`. Fails the test after
/// `limit`. Returns the response's content type and everything received.
public func readEventStream(_ url: String, until end: String, within limit: Duration = .seconds(10),
                            whenConnected: @escaping @Sendable () async throws -> Void) async throws -> (contentType: String?, text: String) {
    try await withDeadline(limit) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        var received = ""
        var connected = false
        for try await chunk in response.body {
            received += String(decoding: chunk.readableBytesView, as: UTF8.self)
            if !connected, received.contains(": connected") {
                connected = true
                try await whenConnected()
            }
            if received.contains(end) { break }
        }
        return (response.headers.first(name: "content-type"), received)
    }
}

/// Runs `body`, failing the test if it has not returned within `limit`.
public func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask(operation: body)
        group.addTask {
            try await Task.sleep(for: limit)
            throw ConformanceFailure("did not finish within \(limit)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// A loopback port nobody listens on any more: a service that is down.
public func closedPort() async throws -> Int {
    try await withLiveServer(Router()) { $0 }
}

