import Foundation

/// An aggregate or view row persisted as a JSON document in its service's store.
///
/// ```swift
/// struct Payment: Entity {
///     static let collection = "payments"
///     var id: Int64?
///     var matchId: Int64
/// }
/// ```
/// `collection` is also the REST path and the HAL relation, as Spring Data REST derives
/// them from the repository.
public protocol Entity: Codable, Sendable {
    static var collection: String { get }
    /// Nil until saved; the store assigns the next id of the collection.
    var id: Int64? { get set }
    /// The HAL relation of one item, Spring Data REST's uncapitalized entity name: by
    /// default the collection without its plural `s`; declare it when that is not the
    /// singular (`orderStatuses`: `orderStatus`).
    static var itemRelation: String { get }
}

extension Entity {
    public static var itemRelation: String {
        collection.hasSuffix("s") ? String(collection.dropLast()) : collection
    }
}

extension DocumentReader {
    public func get<E: Entity>(_ type: E.Type, id: Int64) async throws -> E? {
        guard let body = try await document(E.collection, id: id) else { return nil }
        return try JSONDecoder().decode(E.self, from: body)
    }

    /// Like ``get(_:id:)`` but a missing entity is a 404 naming it.
    public func require<E: Entity>(_ type: E.Type, id: Int64) async throws -> E {
        guard let entity = try await get(type, id: id) else {
            throw Refusal.notFound("\(E.itemRelation) \(id) does not exist")
        }
        return entity
    }

    public func all<E: Entity>(_ type: E.Type, _ query: DocumentQuery = .init()) async throws -> [E] {
        try await documents(E.collection, query).map { try JSONDecoder().decode(E.self, from: $0.body) }
    }

    public func all<E: Entity>(_ type: E.Type, where field: String, equals value: String) async throws -> [E] {
        try await all(type, DocumentQuery(filters: [FieldMatch(field, value)]))
    }
}

extension StoreTransaction {
    public func prefetch(_ documents: [(collection: String, id: Int64)]) async throws {}

    public func recordHandled(eventIds: [String], by consumer: String) async throws -> Set<String> {
        var fresh = Set<String>()
        for id in eventIds where try await recordHandled(eventId: id, by: consumer) { fresh.insert(id) }
        return fresh
    }

    public func remove(_ collection: String, id: Int64) async throws {
        try await delete(collection, id: id)
    }

    /// Deletes entity `E` with `id` if there is one, without saying whether there was
    /// (see ``remove(_:id:)-(String,_)``).
    public func remove<E: Entity>(_ type: E.Type, id: Int64) async throws {
        try await remove(E.collection, id: id)
    }

    /// Inserts or replaces `entity`, assigning the next id when it has none.
    @discardableResult
    public func save<E: Entity>(_ entity: E) async throws -> E {
        var saved = entity
        if saved.id == nil { saved.id = try await nextId(E.collection) }
        try await put(E.collection, id: saved.id!, body: JSON.encode(saved))
        return saved
    }

    /// Loads the entity, lets `change` run a command on it, saves it and enqueues the
    /// events the command returned — the aggregate pattern in one call. A missing entity
    /// is a 404; a refusal thrown by `change` rolls the whole transaction back.
    @discardableResult
    public func update<E: Entity>(_ type: E.Type, id: Int64, _ change: (inout E) throws -> [any DomainEvent]) async throws -> E {
        var entity = try await require(type, id: id)
        try await apply(change, to: &entity)
        return entity
    }

    /// ``update(_:id:_:)`` for a policy reacting to another service's event about
    /// something this service may never have had (a request that never committed, a
    /// payment that never landed): a missing entity is nothing to do, not an error.
    @discardableResult
    public func updateIfPresent<E: Entity>(_ type: E.Type, id: Int64, _ change: (inout E) throws -> [any DomainEvent]) async throws -> E? {
        guard var entity = try await get(type, id: id) else { return nil }
        try await apply(change, to: &entity)
        return entity
    }

    private func apply<E: Entity>(_ change: (inout E) throws -> [any DomainEvent], to entity: inout E) async throws {
        let events = try change(&entity)
        try await save(entity)
        try await publish(events)
    }

    /// Enqueues domain events in this transaction's outbox, stamped with this service as
    /// source and the current trace context.
    public func publish(_ events: [any DomainEvent]) async throws {
        guard !events.isEmpty else { return }
        try await enqueue(events.map { try EventEnvelope($0, source: service, traceparent: TraceContext.current) })
    }

    public func publish(_ event: any DomainEvent) async throws {
        try await publish([event])
    }
}

extension Entity {
    /// The fields whose values differ between this entity and `other`, in name order:
    /// what a refusal of a change to fields that may not change names.
    public func fields(differingFrom other: Self) throws -> [String] {
        guard case .object(let mine) = try JSON.value(self), case .object(let theirs) = try JSON.value(other) else { return [] }
        return Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.sorted()
    }
}
