import Foundation

/// A synchronous call to another service that gates a change of this service's state —
/// reserve's "payment approves, then the request exists" — declared once as a port with
/// the idempotent call that undoes it.
///
/// ```swift
/// let approve = runtime.gatedCall("approve", to: "payment", defaultURL: "http://127.0.0.1:8083",
///     call: { request in try .post("/payments", request) },
///     undo: { request in .post("/payments/\(request.matchId)/void") })
/// ```
///
/// ``perform(in:key:prepare:commit:)`` guarantees:
/// - **Local refusals cost nothing.** The call is admitted first (bulkhead, breaker); a
///   refusal there is a 503 + `Retry-After` with nothing written and nothing sent.
/// - **Nothing half-done.** `prepare` runs in a transaction that also records the call as
///   sent; the call is made outside any transaction; `commit` runs in a transaction that
///   settles the record, so the gated change and its events commit only after the target
///   said yes, and exactly when the call stops needing an undo.
/// - **Unknown outcomes are undone.** A timeout, a 5xx, a cancelled caller, a `commit` that
///   throws, or a caller that crashed before committing (its record outlives the deadline)
///   leave the record to the undo job, which sends `undo` until the target acknowledges
///   it, with backoff and at most `<TARGET>_UNDO_PER_SECOND` (20) undos a second, so
///   recovery never floods the target. A commit that comes after the job took its call
///   over fails with 503: the change never commits for a call being undone.
/// - **The target's verdict is passed on.** A 4xx answer means the target did nothing:
///   the record is dropped and the caller gets a 409 carrying the target's message.
///
/// The target must make `call` idempotent by something in the request (reserve's match
/// id): the chassis retries it after a failed attempt. `undo` must be idempotent and must
/// also stop a `call` that arrives after it (a late request still on the wire).
public struct GatedCall<Request: Codable & Sendable>: Sendable {
    /// `<target>.<name>`, e.g. `payment.approve`: what records and metrics call it.
    public var name: String { "\(port.service).\(port.name)" }
    let port: CallPort<Request>
    let client: ServiceClient
    let registry: CallRegistry

    /// The most a caller may take between recording the call and settling it: every
    /// attempt with its backoff, plus room for a busy store. Past it the undo job may
    /// take the call over.
    var deadline: Duration {
        let attempts = 1 + max(client.policy.retries, 0)
        return client.policy.timeout * attempts + .milliseconds(500) * (attempts - 1) + .seconds(5)
    }

    /// Makes the call and commits the change it gates (see the type's guarantees).
    ///
    /// - Parameters:
    ///   - key: the thing the call is about when only one such call may be in flight at a
    ///     time (an entity's id): a second one is refused with 409 while the first is in
    ///     flight, and with 503 + `Retry-After` while the first is being undone, so two
    ///     requests never both reach the target. Nil when every call is about something
    ///     new (a request being created).
    ///   - prepare: reads and checks what the call needs and builds its request, in the
    ///     transaction that records the call; whatever it throws is answered as is.
    ///   - commit: the gated change, given the request and the target's answer, in the
    ///     transaction that settles the call; if it throws, the call is undone.
    public func perform<T>(in store: any Store, key: String? = nil,
                           prepare: (any StoreTransaction) async throws -> Request,
                           commit: (Request, ServiceResponse, any StoreTransaction) async throws -> T) async throws -> T {
        // A prepare that always asks makes a result that always comes.
        try await performIfAsked(in: store, key: key, prepare: prepare, commit: commit)!
    }

    /// ``perform(in:key:prepare:commit:)`` for a change that may need no call: when
    /// `prepare` returns nil, its transaction commits as it is (whatever it wrote), nothing
    /// is sent, and the result is nil. `inFlightIsUnavailable`: a call of `key` still in
    /// flight is a 503 too, not a 409 (a policy's earlier attempt, whose caller crashed,
    /// until the undo job takes it over).
    func performIfAsked<T>(in store: any Store, key: String? = nil, inFlightIsUnavailable: Bool = false,
                           prepare: (any StoreTransaction) async throws -> Request?,
                           commit: (Request, ServiceResponse, any StoreTransaction) async throws -> T) async throws -> T? {
        let admission = try await client.admit()
        defer { admission.finish() }
        let prepared: (request: Request, outbound: Outbound, record: PendingCall)? = try await store.write { tx in
            if let key, let earlier = try await tx.all(PendingCall.self, where: "key", equals: key).first(where: { $0.call == name }) {
                switch earlier.state {
                case .sent where inFlightIsUnavailable:
                    throw Refusal.unavailable("the last \(name) for \(key) is still in flight", retryAfterSeconds: 1)
                case .sent: throw Refusal.conflict("\(name) for \(key) is already in progress")
                case .undo: throw Refusal.unavailable("the last \(name) for \(key) is still being undone", retryAfterSeconds: 1)
                }
            }
            guard let request = try await prepare(tx) else { return nil }
            let outbound = try port.call(request)
            let now = Clock.millis()
            let record = try await tx.save(PendingCall(call: name, key: key, request: try JSON.encodeString(request), state: .sent,
                                                       deadline: now + deadline.wholeMilliseconds, dueAt: now))
            return (request, outbound, record)
        }
        guard let (request, outbound, record) = prepared else { return nil }
        let answer: ServiceResponse
        do {
            answer = try await admission.send(outbound.method, outbound.path, json: outbound.body, idempotent: true)
        } catch {
            await settle(record, undo: admission.mayHaveReached, in: store)
            ChassisMetrics.shared.gatedCall(name, outcome: admission.mayHaveReached ? "undo" : "unreachable")
            throw error
        }
        guard (200..<300).contains(answer.status) else {
            await settle(record, undo: false, in: store)
            ChassisMetrics.shared.gatedCall(name, outcome: "refused")
            throw Refusal.conflict("\(client.name) refused: \(answer.message)")
        }
        do {
            let result = try await store.write { tx in
                guard try await tx.delete(PendingCall.collection, id: record.id!) else {
                    throw Refusal.unavailable("\(client.name) answered too late: the call is being undone", retryAfterSeconds: 1)
                }
                return try await commit(request, answer, tx)
            }
            ChassisMetrics.shared.gatedCall(name, outcome: "committed")
            return result
        } catch let superseded as Superseded {
            // A twin made the same idempotent call and committed its change: undoing ours
            // would undo theirs.
            await settle(record, undo: false, in: store)
            ChassisMetrics.shared.gatedCall(name, outcome: "superseded")
            throw superseded
        } catch {
            await settle(record, undo: true, in: store)
            ChassisMetrics.shared.gatedCall(name, outcome: "undo")
            throw error
        }
    }

    /// Settles a call that will not commit: queued for the undo job when the target may
    /// have acted on it, forgotten when it cannot have. Runs in a task of its own so that
    /// a cancelled caller still settles; if even that fails, the record stays `sent` and
    /// the undo job takes it over at its deadline.
    private func settle(_ record: PendingCall, undo: Bool, in store: any Store) async {
        let settled = Task {
            try await store.write { tx in
                guard var pending = try await tx.get(PendingCall.self, id: record.id!), pending.state == .sent else { return }
                if undo {
                    pending.state = .undo
                    pending.dueAt = Clock.millis()
                    try await tx.save(pending)
                } else {
                    try await tx.remove(PendingCall.collection, id: record.id!)
                }
            }
        }
        _ = await settled.result
        if undo { await registry.doorbell.ring() }
    }
}

/// Thrown by a `commit` whose change another caller already made with the same
/// request (a second replica working on the same event): the call is not undone, since
/// an idempotent target took both calls as one.
public struct Superseded: Error, Sendable, CustomStringConvertible {
    public let what: String
    public init(_ what: String) { self.what = what }
    public var description: String { "\(what) was already done by another caller" }
}

extension ServiceResponse {
    /// The `error` of a JSON refusal body, else the body as text (cut short).
    var message: String {
        if let value = try? JSON.parse(body), let error = value["error"]?.stringValue { return error }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return text.isEmpty ? "answered \(status)" : text
    }
}

/// A ``GatedCall`` as declared, before a running service gives it a client: what a
/// gated policy (declared with the service's other policies, ahead of any runtime) names.
public struct CallPort<Request: Codable & Sendable>: Sendable {
    public let name: String
    public let service: String
    public let defaultURL: String
    /// The client's defaults for this target, before its settings (``ServiceRuntime/client(for:defaultURL:defaults:)``).
    public let policy: CallPolicy
    let call: @Sendable (Request) throws -> Outbound
    let undo: @Sendable (Request) throws -> Outbound

    /// `name` of a call to `service` (whose URL comes from `<SERVICE>_URL`, else `defaultURL`;
    /// its limits from `<SERVICE>_…` settings, else `policy`).
    public init(_ name: String, to service: String, defaultURL: String, policy: CallPolicy = CallPolicy(), _ request: Request.Type = Request.self,
                call: @escaping @Sendable (Request) throws -> Outbound, undo: @escaping @Sendable (Request) throws -> Outbound) {
        self.name = name
        self.service = service
        self.defaultURL = defaultURL
        self.policy = policy
        self.call = call
        self.undo = undo
    }
}

extension ServiceRuntime {
    /// The ``GatedCall`` of `port` in this service (its client as
    /// ``client(for:defaultURL:)`` makes it), registered so that this service's undo job
    /// can undo it.
    public func gatedCall<Request>(_ port: CallPort<Request>) -> GatedCall<Request> {
        let gated = GatedCall(port: port, client: client(for: port.service, defaultURL: port.defaultURL, defaults: port.policy),
                              registry: calls)
        let undo = port.undo
        calls.register(gated.name, client: gated.client) { json in try undo(try JSON.decode(Request.self, from: Data(json.utf8))) }
        return gated
    }

    /// Declares a ``GatedCall`` to `service` and registers it (see ``CallPort``).
    public func gatedCall<Request: Codable & Sendable>(
        _ name: String, to service: String, defaultURL: String, policy: CallPolicy = CallPolicy(), _ request: Request.Type = Request.self,
        call: @escaping @Sendable (Request) throws -> Outbound, undo: @escaping @Sendable (Request) throws -> Outbound
    ) -> GatedCall<Request> {
        gatedCall(CallPort(name, to: service, defaultURL: defaultURL, policy: policy, call: call, undo: undo))
    }
}
