import Foundation

/// Reads that need no transaction: each call sees a committed snapshot.
public protocol DocumentReader: Sendable {
    func document(_ collection: String, id: Int64) async throws -> Data?
    func documents(_ collection: String, _ query: DocumentQuery) async throws -> [StoredDocument]
    func count(_ collection: String, matching filters: [FieldMatch]) async throws -> Int
}
