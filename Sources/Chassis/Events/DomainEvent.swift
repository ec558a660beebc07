import Foundation

/// A fact a service publishes: its payload is the seed's fields, its type name the seed's
/// event name (`ReserveRequested`), and its correlation key picks the partition, so every
/// event about the same aggregate is delivered in the order it was published.
public protocol DomainEvent: Codable, Sendable {
    /// The name consumers subscribe to; defaults to the Swift type's name.
    static var eventType: String { get }
    /// The key that correlates this event with the record it concerns (a match id…).
    var correlationKey: String { get }
}

extension DomainEvent {
    public static var eventType: String { String(describing: Self.self) }
}
