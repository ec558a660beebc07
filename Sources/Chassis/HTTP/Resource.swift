import Foundation
import Hummingbird

/// A Spring Data REST repository resource for entity `E`: the routes, bodies and status
/// codes the seeds' `http` commands expect, declared once per entity.
///
/// ```swift
/// Resource<Promotion>(store: store)
///     .creating { body, store in … }           // POST; omitted: POST is 405
///     .updating { old, new, tx in … }          // PATCH and PUT; omitted: 405
///     .searchable(by: "customer")              // GET /promotions/search/findByCustomer?customer=…
///     .register(on: router)
/// ```
/// Collections answer HAL with `_embedded`, `_links` and `page` (`?page=&size=&sort=f,desc`);
/// items answer their fields plus `_links.self` and `_links.<item>`. Unknown ids are 404
/// JSON. Hooks run in or around a store transaction; whatever they throw rolls it back.
public struct Resource<E: Entity>: Sendable {
    public typealias Create = @Sendable (JSONValue, any Store) async throws -> E
    public typealias Update = @Sendable (_ stored: E, _ proposed: inout E, _ transaction: any StoreTransaction) async throws -> [any DomainEvent]
    public typealias Delete = @Sendable (E, any StoreTransaction) async throws -> [any DomainEvent]

    /// Runs a change as a ``GatedCall``: nil when this change needs no call (it then runs
    /// as a plain change), else the entity the gated change committed. Given the id, the
    /// store, how to make the proposed entity from a stored one, and the change itself in
    /// the transaction that settles the call.
    typealias Gate = @Sendable (_ id: Int64, _ store: any Store, _ propose: @escaping @Sendable (E) throws -> E,
                                _ apply: @escaping @Sendable (any StoreTransaction) async throws -> E?) async throws -> E??

    let store: any Store
    var create: Create?
    var update: Update?
    var updateGate: Gate?
    var delete: Delete?
    var deleteGate: Gate?
    var searchFields: [String] = []
    var filterFields: [String] = []
    var postPatchesItems = false
    /// Creates in flight at once (``admittingCreates(atMost:)``), nil: unbounded.
    var creates: Bulkhead?
    var commands: [(path: String, handle: @Sendable (Request) async throws -> Response)] = []

    public init(store: any Store) { self.store = store }

    /// Allows POST with `hook`, which builds, checks and commits the new entity.
    public func creating(_ hook: @escaping Create) -> Self { var r = self; r.create = hook; return r }

    /// Allows POST with `hook`, given the body decoded as `Input` (lenient numbers; a body
    /// that does not fit is a 400 naming the field).
    public func creating<Input: Decodable & SendableMetatype>(_ input: Input.Type, _ hook: @escaping @Sendable (Input, any Store) async throws -> E) -> Self {
        creating { body, store in try await hook(try JSON.decode(Input.self, from: body), store) }
    }

    /// Allows POST of a typed body: `make` builds the entity from it (or refuses), and it
    /// is saved with the events `raising` gives for it, once it has its id, in one
    /// transaction (mission: `MissionAchieved` carries the new mission's id).
    public func creating<Input: Decodable & SendableMetatype>(_ input: Input.Type, _ make: @escaping @Sendable (Input) throws -> E,
                                                              raising events: @escaping @Sendable (E) -> [any DomainEvent]) -> Self {
        creating(input) { input, store in
            let entity = try make(input)
            return try await store.write { tx in
                let saved = try await tx.save(entity)
                try await tx.publish(events(saved))
                return saved
            }
        }
    }

    /// Allows POST for plain records: decode the body, run `check` for the events the
    /// creation raises (or a refusal), save them in one transaction.
    public func creating(raising check: @escaping @Sendable (inout E, any StoreTransaction) async throws -> [any DomainEvent] = { _, _ in [] }) -> Self {
        creating { body, store in
            var entity = try JSON.decode(E.self, from: body)
            entity.id = nil
            return try await store.write { tx in
                entity = try await tx.save(entity)
                let events = try await check(&entity, tx)
                try await tx.save(entity)
                try await tx.publish(events)
                return entity
            }
        }
    }

    /// Allows POST for an entity that exists only once another service said yes: the
    /// ``GatedCall`` is made under its guarantees (nothing written for a local refusal,
    /// the entity and its events committed only after the target agreed, an unknown
    /// outcome undone). `request` decides what to ask, from the decoded body, in the
    /// transaction that records the call (it may take the new entity's id there);
    /// `create` makes the entity and the events it raises once the target agreed.
    public func creating<Input: Decodable & Sendable, Request>(
        _ input: Input.Type, gatedBy call: GatedCall<Request>,
        request: @escaping @Sendable (Input, any StoreTransaction) async throws -> Request,
        create: @escaping @Sendable (Input, Request) throws -> (E, [any DomainEvent])
    ) -> Self {
        creating(input) { input, store in
            try await call.perform(in: store) { tx in try await request(input, tx) } commit: { request, _, tx in
                let (entity, events) = try create(input, request)
                let saved = try await tx.save(entity)
                try await tx.publish(events)
                return saved
            }
        }
    }

    /// Allows PATCH (merge) and PUT (replace); `hook` sees the stored and the proposed
    /// entity, may refuse or adjust the proposal, and returns the events it raises.
    public func updating(_ hook: @escaping Update) -> Self { var r = self; r.update = hook; return r }
    /// Allows PATCH and PUT as ``updating(_:)`` does, with the changes for which `ask`
    /// returns a request gated by `call` (wallet → gift: only a change to `Exchanged` asks
    /// gift first). `ask` sees the stored and the proposed entity and throws to refuse the
    /// change before anything is sent (already exchanged: 409, nothing sent); it runs
    /// again, on the entity as it is then, in the transaction that records the call. The
    /// change itself (`hook`) commits only once the target agreed, on the entity as it is
    /// then; if it throws, the call is undone. One gated change per entity is in flight at
    /// a time: a second is refused with 409 meanwhile.
    public func updating<Request>(gatedBy call: GatedCall<Request>,
                                  when ask: @escaping @Sendable (_ stored: E, _ proposed: E) throws -> Request?,
                                  _ hook: @escaping Update) -> Self {
        var r = updating(hook)
        r.updateGate = { id, store, propose, apply in
            let stored = try await store.require(E.self, id: id)
            guard try ask(stored, try propose(stored)) != nil else { return nil }
            return try await call.perform(in: store, key: "\(E.collection)/\(id)") { tx in
                let current = try await tx.require(E.self, id: id)
                guard let request = try ask(current, try propose(current)) else {
                    throw Refusal.conflict("\(E.itemRelation) \(id) changed meanwhile; send the change again")
                }
                return request
            } commit: { _, _, tx in try await apply(tx) }
        }
        return r
    }

    /// Also takes `POST /things/{id}` as a PATCH of that item. httpie sends POST when it is
    /// given fields and no method, so a seed that writes its PATCH as
    /// `http :8083/wallets/1 status=Exchanged` (seed 001) sends a POST to an item, which
    /// Spring Data REST would refuse with 405. Only for an updatable resource.
    public func takingPostOnItemsAsPatch() -> Self { var r = self; r.postPatchesItems = true; return r }

    public func deleting(_ hook: @escaping Delete = { _, _ in [] }) -> Self { var r = self; r.delete = hook; return r }

    /// Allows DELETE only once `call` succeeded (order → delivery: the delivery is
    /// cancelled first): `request` builds the call from the stored entity, and `hook`
    /// returns the events of the deletion, in the transaction that settles the call. A
    /// target that cannot answer is a 503 and the entity stays; one gated deletion per
    /// entity is in flight at a time.
    public func deleting<Request>(gatedBy call: GatedCall<Request>, request: @escaping @Sendable (E) throws -> Request,
                                  _ hook: @escaping Delete = { _, _ in [] }) -> Self {
        var r = deleting(hook)
        r.deleteGate = { id, store, _, apply in
            try await call.perform(in: store, key: "\(E.collection)/\(id)") { tx in
                try request(try await tx.require(E.self, id: id))
            } commit: { _, _, tx in try await apply(tx) }
        }
        return r
    }
    /// Adds a command at a path of its own, as the seeds' controllers had (`POST
    /// /hospital/inject {"userId": 1}`): the body decoded as `Input` (lenient numbers; a
    /// body that does not fit is a 400 naming the field), then `run` in one transaction,
    /// where it changes or makes the entity (``StoreTransaction/update(_:id:_:)``, `save`,
    /// `publish`) and returns it. A refusal thrown changes nothing. Answered with the
    /// entity in HAL form: 200, or 201 with `Location` when the command `creates` it.
    public func command<Input: Decodable & SendableMetatype>(
        _ path: String, _ input: Input.Type, creates: Bool = false,
        _ run: @escaping @Sendable (Input, any StoreTransaction) async throws -> E
    ) -> Self {
        command(path, input, creates: creates, preparing: { _ in () }) { input, _, tx in try await run(input, tx) }
    }

    /// ``command(_:_:creates:_:)`` with a step before the transaction: `prepare` runs
    /// first, outside it, for what the command must know that no transaction may wait for
    /// (a call to another service: a transaction holds the store's write lock), and `run`
    /// is given what it found.
    public func command<Input: Decodable & SendableMetatype, Prepared: Sendable>(
        _ path: String, _ input: Input.Type, creates: Bool = false,
        preparing prepare: @escaping @Sendable (Input) async throws -> Prepared,
        _ run: @escaping @Sendable (Input, Prepared, any StoreTransaction) async throws -> E
    ) -> Self {
        var r = self
        let store = self.store
        r.commands.append((path, { request in
            let input = try JSON.decode(Input.self, from: try await JSONResponse.body(of: request))
            let prepared = try await prepare(input)
            let entity = try await store.write { tx in try await run(input, prepared, tx) }
            guard let id = entity.id else { preconditionFailure("a command answers with a saved entity") }
            let base = HAL.base(of: request)
            let body = HAL.item(E.self, id: id, body: try JSON.value(entity), base: base)
            return try JSONResponse.make(creates ? .created : .ok, body, contentType: HAL.contentType,
                                         headers: creates ? [.location: "\(base)/\(E.collection)/\(id)"] : [:])
        }))
        return r
    }

    /// At most `limit` creates in flight at once; one more is refused at once with 503 and
    /// `Retry-After: 1`, before its body is read or anything written (the shop seed's rule:
    /// "when three orders are in progress, stop taking orders and tell the customer to try
    /// shortly"). Per process: each replica admits its own `limit`.
    public func admittingCreates(atMost limit: Int) -> Self { var r = self; r.creates = Bulkhead(limit: limit); return r }

    public func searchable(by fields: String...) -> Self { var r = self; r.searchFields += fields; return r }
    /// Lets the collection be filtered by these fields' query parameters (`?customer=andy`).
    public func filterable(by fields: String...) -> Self { var r = self; r.filterFields += fields; return r }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        let path = RouterPath(E.collection)
        router.get(path) { request, _ in try await list(request) }
        router.get("\(E.collection)/:id") { request, context in try await item(request, id: context.parameters.require("id", as: Int64.self)) }
        // A method left out is not registered: the router's 405 names what is allowed.
        if let create {
            let creates = self.creates
            router.post(path) { request, _ in
                guard let creates else { return try await post(request, create: create) }
                guard creates.tryEnter() else {
                    throw Refusal.unavailable("\(creates.limit) \(E.collection) are being taken already; try again shortly", retryAfterSeconds: 1)
                }
                defer { creates.leave() }
                return try await post(request, create: create)
            }
        }
        if let update {
            router.patch("\(E.collection)/:id") { request, context in
                try await change(request, id: context.parameters.require("id", as: Int64.self), merge: true, update: update)
            }
            router.put("\(E.collection)/:id") { request, context in
                try await change(request, id: context.parameters.require("id", as: Int64.self), merge: false, update: update)
            }
            if postPatchesItems {
                router.post("\(E.collection)/:id") { request, context in
                    try await change(request, id: context.parameters.require("id", as: Int64.self), merge: true, update: update)
                }
            }
        }
        if let delete { router.delete("\(E.collection)/:id") { _, context in try await remove(id: context.parameters.require("id", as: Int64.self), delete: delete) } }
        for command in commands { router.post(RouterPath(command.path)) { request, _ in try await command.handle(request) } }
        router.get("\(E.collection)/search") { request, _ in try searchIndex(request) }
        router.get("\(E.collection)/search/:name") { request, context in try await search(request, name: context.parameters.require("name")) }
    }

    // MARK: Handlers

    func list(_ request: Request) async throws -> Response {
        let paging = try Paging(request)
        let base = HAL.base(of: request)
        let parameters = request.uri.queryParameters
        let filters = filterFields.compactMap { field in parameters[Substring(field)].map { FieldMatch(field, String($0)) } }
        let total = try await store.count(E.collection, matching: filters)
        let page = try await store.documents(E.collection, paging.query(filters: filters))
        let body = try HAL.collection(E.self, page, base: base, paging: paging, total: total,
                                      selfHref: "\(base)/\(E.collection){?page,size,sort}", templated: true,
                                      extra: ["profile": .object(["href": .string("\(base)/profile/\(E.collection)")])]
                                          .merging(searchFields.isEmpty ? [:] : ["search": .object(["href": .string("\(base)/\(E.collection)/search")])]) { a, _ in a })
        return try JSONResponse.make(.ok, body, contentType: HAL.contentType)
    }

    func item(_ request: Request, id: Int64) async throws -> Response {
        guard let body = try await store.document(E.collection, id: id) else { throw notFound(id) }
        return try JSONResponse.make(.ok, HAL.item(E.self, id: id, body: JSON.parse(body), base: HAL.base(of: request)), contentType: HAL.contentType)
    }

    func post(_ request: Request, create: Create) async throws -> Response {
        let entity = try await create(try await JSONResponse.body(of: request), store)
        let base = HAL.base(of: request)
        let body = try HAL.item(E.self, id: entity.id!, body: JSON.value(entity), base: base)
        return try JSONResponse.make(.created, body, contentType: HAL.contentType,
                                     headers: [.location: "\(base)/\(E.collection)/\(entity.id!)"])
    }

    func change(_ request: Request, id: Int64, merge: Bool, update: @escaping Update) async throws -> Response {
        let changes = try await JSONResponse.body(of: request)
        guard case .object = changes else { throw Refusal.badRequest("the body must be a JSON object") }
        let propose: @Sendable (E) throws -> E = { stored in
            var proposed = try JSON.decode(E.self, from: merge ? try JSON.value(stored).merged(with: changes) : changes)
            proposed.id = id
            return proposed
        }
        let apply: @Sendable (any StoreTransaction) async throws -> E? = { tx in
            let stored = try await tx.require(E.self, id: id)
            var proposed = try propose(stored)
            let events = try await update(stored, &proposed, tx)
            try await tx.save(proposed)
            try await tx.publish(events)
            return proposed
        }
        // A gate answers nil when this change needs no call: then it is a plain change.
        let changed: E?
        if let gated = try await updateGate?(id, store, propose, apply) { changed = gated } else { changed = try await store.write { tx in try await apply(tx) } }
        guard let entity = changed else { preconditionFailure("an update returns its entity") }
        return try JSONResponse.make(.ok, HAL.item(E.self, id: id, body: JSON.value(entity), base: HAL.base(of: request)),
                                     contentType: HAL.contentType)
    }

    func remove(id: Int64, delete: @escaping Delete) async throws -> Response {
        let apply: @Sendable (any StoreTransaction) async throws -> E? = { tx in
            let stored = try await tx.require(E.self, id: id)
            let events = try await delete(stored, tx)
            try await tx.delete(E.collection, id: id)
            try await tx.publish(events)
            return nil
        }
        if let deleteGate {
            _ = try await deleteGate(id, store, { $0 }, apply)
        } else {
            _ = try await store.write { tx in try await apply(tx) }
        }
        return Response(status: .noContent)
    }

    func searchIndex(_ request: Request) throws -> Response {
        let base = HAL.base(of: request)
        var links: [String: JSONValue] = ["self": .object(["href": .string("\(base)/\(E.collection)/search")])]
        for field in searchFields {
            let name = "findBy" + field.prefix(1).uppercased() + field.dropFirst()
            links[name] = .object(["href": .string("\(base)/\(E.collection)/search/\(name){?\(field),page,size,sort}"), "templated": true])
        }
        return try JSONResponse.make(.ok, .object(["_links": .object(links)]), contentType: HAL.contentType)
    }

    func search(_ request: Request, name: String) async throws -> Response {
        guard name.hasPrefix("findBy"),
              let field = searchFields.first(where: { "findBy" + $0.prefix(1).uppercased() + $0.dropFirst() == name })
        else { throw Refusal.notFound("\(E.collection) has no search named \(name)") }
        let parameters = request.uri.queryParameters
        guard let value = parameters[Substring(field)] else { throw Refusal.badRequest("query parameter \(field) is required", field: field) }
        let filters = [FieldMatch(field, String(value))]
        let paging = try Paging(request)
        let base = HAL.base(of: request)
        let total = try await store.count(E.collection, matching: filters)
        let page = try await store.documents(E.collection, paging.query(filters: filters))
        let body = try HAL.collection(E.self, page, base: base, paging: paging, total: total,
                                      selfHref: "\(base)/\(E.collection)/search/\(name)?\(field)=\(value)", templated: false, extra: [:])
        return try JSONResponse.make(.ok, body, contentType: HAL.contentType)
    }

    func notFound(_ id: Int64) -> Refusal { .notFound("\(E.itemRelation) \(id) does not exist") }
}

/// Spring Data's `page`, `size` and `sort` parameters, validated (a 400 naming the
/// parameter): a route of a service's own that pages (vaccine's `/dashboard/list`) reads
/// them the way every collection does.
public struct Paging: Sendable {
    public var page = 0
    public var size = 20
    public var sort: [SortKey] = []
    static let maxPage = 1_000_000_000

    public init(_ request: Request) throws {
        let parameters = request.uri.queryParameters
        if let text = parameters["page"] {
            // Bounded so that page * size cannot overflow (a crash, not an answer).
            guard let value = Int(text), (0...Self.maxPage).contains(value) else {
                throw Refusal.badRequest("page must be a number from 0 to \(Self.maxPage)", field: "page")
            }
            page = value
        }
        if let text = parameters["size"] {
            guard let value = Int(text), (1...2000).contains(value) else { throw Refusal.badRequest("size must be 1 to 2000", field: "size") }
            size = value
        }
        for text in parameters.getAll("sort") {
            let parts = text.split(separator: ",").map(String.init)
            guard let field = parts.first, DocumentQuery.isIdentifier(field) else { throw Refusal.badRequest("sort must be field[,asc|desc]", field: "sort") }
            sort.append(SortKey(field, ascending: parts.dropFirst().first?.lowercased() != "desc"))
        }
    }

    public func query(filters: [FieldMatch]) -> DocumentQuery {
        DocumentQuery(filters: filters, sort: sort, offset: page * size, limit: size)
    }
}

/// HAL bodies as Spring Data REST writes them.
public enum HAL {
    public static let contentType = "application/hal+json"

    /// `http://host:port` as the client addressed it (through the gateway: the gateway).
    public static func base(of request: Request) -> String {
        let host = request.headers[.init("X-Forwarded-Host")!] ?? request.head.authority ?? "localhost"
        return "http://\(host)"
    }

    public static func item<E: Entity>(_ type: E.Type, id: Int64, body: JSONValue, base: String) -> JSONValue {
        var object = body
        let href = JSONValue.object(["href": .string("\(base)/\(E.collection)/\(id)")])
        object["_links"] = .object(["self": href, E.itemRelation: href])
        return object
    }

    static func collection<E: Entity>(_ type: E.Type, _ documents: [StoredDocument], base: String, paging: Paging, total: Int,
                                      selfHref: String, templated: Bool, extra: [String: JSONValue]) throws -> JSONValue {
        let items = try documents.map { item(E.self, id: $0.id, body: try JSON.parse($0.body), base: base) }
        var selfLink: [String: JSONValue] = ["href": .string(selfHref)]
        if templated { selfLink["templated"] = .bool(true) }
        var links = extra
        links["self"] = .object(selfLink)
        return .object([
            "_embedded": .object([E.collection: .array(items)]),
            "_links": .object(links),
            "page": .object([
                "size": .number(Double(paging.size)),
                "totalElements": .number(Double(total)),
                "totalPages": .number(Double((total + paging.size - 1) / paging.size)),
                "number": .number(Double(paging.page)),
            ]),
        ])
    }
}
