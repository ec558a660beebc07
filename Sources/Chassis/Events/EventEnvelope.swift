import Foundation

/// An event as it travels: the payload plus everything a consumer, an operator or a tracer
/// needs to know about it. Envelopes are what the outbox stores and the bus carries.
public struct EventEnvelope: Sendable, Codable, Equatable {
    /// Unique per event; the bus drops a re-published id and consumers skip a handled one.
    public var id: String
    /// The seed's event name, e.g. `PaymentApproved`.
    public var type: String
    /// The producing service.
    public var source: String
    /// When the producing transaction ran, in milliseconds since 1970.
    public var time: Int64
    /// The correlation key; its hash picks the partition.
    public var key: String
    /// W3C `traceparent` of the request or handler that raised the event, if any.
    public var traceparent: String?
    /// The event's fields as JSON.
    public var payload: Data

    public init(id: String = RandomID.uuid(), type: String, source: String, time: Int64 = Clock.millis(),
                key: String, traceparent: String? = nil, payload: Data) {
        self.id = id
        self.type = type
        self.source = source
        self.time = time
        self.key = key
        self.traceparent = traceparent
        self.payload = payload
    }

    public init<E: DomainEvent>(_ event: E, source: String, traceparent: String? = nil) throws {
        self.init(type: E.eventType, source: source, key: event.correlationKey, traceparent: traceparent,
                  payload: try JSON.encode(event))
    }

    /// The payload decoded as `E`.
    public func decode<E: DomainEvent>(_ type: E.Type) throws -> E {
        try JSONDecoder().decode(E.self, from: payload)
    }

    /// The partition this envelope belongs to among `count`: a stable hash (FNV-1a) of the
    /// key, identical in every process and every run, unlike Swift's seeded `Hasher`.
    public func partition(of count: Int) -> Int {
        Self.partition(forKey: key, of: count)
    }

    public static func partition(forKey key: String, of count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(hash % UInt64(max(count, 1)))
    }
}
