import Foundation

public struct OutboxEntry: Sendable, Equatable {
    public var sequence: Int64
    public var envelope: EventEnvelope
    public init(sequence: Int64, envelope: EventEnvelope) { self.sequence = sequence; self.envelope = envelope }
}

/// An event a consumer gave up on after its retries, with the error that stopped it.
public struct DeadLetter: Sendable, Codable, Equatable {
    public var id: Int64?
    public var group: String
    public var partition: Int
    public var position: Int64
    public var envelope: EventEnvelope
    public var error: String
    public var attempts: Int
    public var parkedAt: Int64

    public init(id: Int64? = nil, group: String, partition: Int, position: Int64, envelope: EventEnvelope,
                error: String, attempts: Int, parkedAt: Int64 = Clock.millis()) {
        self.id = id
        self.group = group
        self.partition = partition
        self.position = position
        self.envelope = envelope
        self.error = error
        self.attempts = attempts
        self.parkedAt = parkedAt
    }
}

public struct PruneReport: Sendable, Equatable {
    public var outbox: Int
    public var handled: Int
    public init(outbox: Int, handled: Int) { self.outbox = outbox; self.handled = handled }
}

extension Store {
    public func markPublished(_ sequences: [Int64], thenPending limit: Int) async throws -> [OutboxEntry] {
        try await markPublished(sequences)
        return try await pendingOutbox(limit: limit)
    }
}
