import Foundation

public struct StoredDocument: Sendable, Equatable {
    public var id: Int64
    public var body: Data
    public init(id: Int64, body: Data) { self.id = id; self.body = body }
}

/// `field = value`, compared as JSON: `"4"` matches the number 4 and the string "4".
public struct FieldMatch: Sendable, Equatable {
    public var field: String
    public var value: String
    public init(_ field: String, _ value: String) { self.field = field; self.value = value }
}

public struct SortKey: Sendable, Equatable {
    public var field: String
    public var ascending: Bool
    public init(_ field: String, ascending: Bool = true) { self.field = field; self.ascending = ascending }
}

/// A filtered, sorted page of a collection. Field names are checked by the store
/// (letters, digits and `_` only) because they become JSON paths in SQL.
public struct DocumentQuery: Sendable, Equatable {
    public var filters: [FieldMatch]
    public var sort: [SortKey]
    public var offset: Int
    public var limit: Int
    /// Only documents whose id is greater (tailing a collection, e.g. a live stream).
    public var afterId: Int64?

    public init(filters: [FieldMatch] = [], sort: [SortKey] = [], offset: Int = 0, limit: Int = 1000, afterId: Int64? = nil) {
        self.afterId = afterId
        self.filters = filters
        self.sort = sort
        self.offset = offset
        self.limit = limit
    }

    /// Throws a 400 naming the first field that is not a plain identifier.
    public func validated() throws -> DocumentQuery {
        for name in filters.map(\.field) + sort.map(\.field) where !DocumentQuery.isIdentifier(name) {
            throw Refusal.badRequest("\(name) is not a field name", field: name)
        }
        return self
    }

    public static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || CharacterSet.letters.contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || CharacterSet.alphanumerics.contains($0) } && name.count <= 64
    }
}
