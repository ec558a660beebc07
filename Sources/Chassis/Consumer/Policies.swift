/// A service's "whenever X, then Y" table: which events it reacts to and how.
///
/// ```swift
/// let lendPolicies = Policies()
///     .on(PaymentApproved.self) { event, tx in try await tx.save(RequestListItem(event)) }
/// ```
/// A handler runs inside a transaction of the service's store together with the record
/// that the event was handled and the consumer's position: its effects and the events it
/// publishes commit exactly when the event counts as handled. A handler that throws is
/// retried (the transaction rolled back each time) and finally parked as a dead letter.
public struct Policies: Sendable {
    public typealias Handler = @Sendable (EventEnvelope, any StoreTransaction) async throws -> Void
    /// A gated policy's step, run from the queue: the event, its queue entry, the service.
    typealias GatedStep = @Sendable (EventEnvelope, Int64, ServiceRuntime) async throws -> Void

    var handlers: [String: Handler] = [:]
    /// Gated policies by event type (``on(_:calling:request:then:)``).
    var gated: [String: GatedStep] = [:]
    /// Registers the calls of the gated policies with a running service, by call name, so
    /// its undo job can undo them from the start; each gives the calls its client admits
    /// at once (its bulkhead), which bounds how many the queue runs at a time.
    var ports: [String: @Sendable (ServiceRuntime) -> Int] = [:]

    public init() {}

    /// Adds a handler for events of type `E`; a later one for the same type replaces it.
    public func on<E: DomainEvent>(_ type: E.Type, _ handle: @escaping @Sendable (E, any StoreTransaction) async throws -> Void) -> Policies {
        var copy = self
        copy.handlers[E.eventType] = { envelope, tx in try await handle(try envelope.decode(E.self), tx) }
        return copy
    }

    /// Both tables in one (a service with several groups of policies, a view and a saga).
    /// An event both react to runs this table's handler, then `other`'s, in one
    /// transaction (dashboard: the row and the notification of one status change).
    public func merging(_ other: Policies) -> Policies {
        var copy = self
        copy.handlers.merge(other.handlers) { mine, theirs in
            { envelope, tx in
                try await mine(envelope, tx)
                try await theirs(envelope, tx)
            }
        }
        copy.gated.merge(other.gated) { _, new in new }
        copy.ports.merge(other.ports) { _, new in new }
        return copy
    }

    /// The handler the consumer runs for `type`. In a table with gated policies, an event
    /// whose key has events queued behind a gated one joins that queue, so a key's events
    /// keep their order.
    public func handler(for type: String) -> Handler? {
        guard let handler = handlers[type] else { return nil }
        guard !gated.isEmpty, gated[type] == nil else { return handler }
        return { envelope, tx in
            if try await QueuedEvent.isQueued(key: envelope.key, tx) {
                try await QueuedEvent.enqueue(envelope, tx)
            } else {
                try await handler(envelope, tx)
            }
        }
    }
    public var eventTypes: Set<String> { Set(handlers.keys) }
    public var isEmpty: Bool { handlers.isEmpty }
}
