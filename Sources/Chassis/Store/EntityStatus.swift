/// A status as the seeds spell it, for an entity's `status` field: a string-backed enum
/// that also takes the seeds' other words for a value and refuses any other string.
///
/// ```swift
/// enum Status: String, EntityStatus {
///     case paid = "Paid", matched = "Matched", cancelled = "Cancelled"
///     static let aliases: [String: Status] = ["Cancel": .cancelled]   // the seed's PATCH
/// }
/// ```
/// Decoding `"Cancel"` gives `.cancelled`; decoding `"Lost"` fails at the field's path, so
/// a request body with it is a 400 naming the field and listing the values. Encoded, a
/// status is always its own spelling (`"Cancelled"`).
public protocol EntityStatus: RawRepresentable, Codable, Sendable, Hashable, CaseIterable where RawValue == String {
    /// Other spellings clients send for a value.
    static var aliases: [String: Self] { get }
}

extension EntityStatus {
    public static var aliases: [String: Self] { [:] }

    /// The value `text` spells, in its own spelling or an alias; nil for any other text.
    public init?(spelling text: String) {
        guard let value = Self(rawValue: text) ?? Self.aliases[text] else { return nil }
        self = value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(spelling: text) else {
            let known = Self.allCases.map(\.rawValue) + Self.aliases.keys.sorted()
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be one of \(known.joined(separator: ", ")), got \"\(text)\"")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
