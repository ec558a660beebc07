import Foundation

/// The one JSON configuration every service speaks: stable key order (so stored documents
/// and event payloads are byte-stable), no escaped slashes, and the lenient decoding that
/// Spring's Jackson does, so clients written for the seeds keep working.
public enum JSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// A `JSONValue` is written directly (``JSONWriter``), with the same bytes.
    public static func encode(_ value: JSONValue) throws -> Data {
        try JSONWriter.write(value)
    }

    public static func encodeString<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    public static func value<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONParser.parse(encode(value))
    }

    /// Parses `data` as JSON; malformed input is a ``Refusal/badRequest(_:field:)``.
    public static func parse(_ data: Data) throws -> JSONValue {
        do { return try JSONParser.parse(data) } catch {
            throw Refusal.badRequest("malformed JSON: \(error)")
        }
    }

    /// Decodes `value` as Jackson would: a numeric field accepts a number or a numeric
    /// string (httpie sends `price=20000` as `"20000"`), a string field accepts a number,
    /// unknown fields are ignored. A value that cannot be coerced is a 400 naming its field.
    ///
    /// A numeric string is read with JSON's own number syntax (``isJSONNumber(_:)``),
    /// surrounding spaces aside, as Jackson reads one: `"0x4E20"`, `"Infinity"`, `"NaN"`,
    /// `"1e309"` (beyond a double) and `"+5"` are not numbers, and a number beyond the
    /// field's type (`"1e20"` for an integer) is a 400 naming the field, never a 500.
    ///
    /// Coercion is driven by the decoder's own type errors: each mismatch at a path whose
    /// value can be converted is converted and decoding runs again, so the rules live in one
    /// place and no per-type schema is needed.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        var current = value
        for _ in 0..<64 {
            do {
                return try JSONDecoder().decode(T.self, from: encode(current))
            } catch let error as DecodingError {
                if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
                   let (field, number) = nonIntegerForInteger(in: current, as: T.self) {
                    throw Refusal.badRequest(number.rounded() == number ? "\(field) is too large for an integer" : "\(field) must be an integer",
                                             field: field)
                }
                guard let (path, fixed) = coercion(for: error, in: current) else { throw refusal(for: error) }
                current = current.replacing(at: path, with: fixed)
            }
        }
        throw Refusal.badRequest("body could not be decoded as \(T.self)")
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        // Most bodies already have the right types: decode them directly, and pay for
        // coercion (and for naming the field that is wrong) only when that fails.
        if let value = try? JSONDecoder().decode(T.self, from: data) { return value }
        return try decode(type, from: parse(data))
    }

    /// Foundation reports a fraction or an out-of-range number given for an integer field as
    /// corrupted data without a path; find the field by probing each such number with a
    /// value of the wrong type.
    private static func nonIntegerForInteger<T: Decodable>(in root: JSONValue, as type: T.Type) -> (String, Double)? {
        for (path, number) in root.nonIntegerNumbers() {
            do { _ = try JSONDecoder().decode(T.self, from: encode(root.replacing(at: path, with: .array([])))) } catch {
                if case .typeMismatch(let expected, let context) = error as? DecodingError,
                   context.codingPath.map(\.stringValue) == path, expected is any BinaryInteger.Type {
                    return (path.joined(separator: "."), number)
                }
            }
        }
        return nil
    }

    private static func coercion(for error: DecodingError, in root: JSONValue) -> ([String], JSONValue)? {
        guard case .typeMismatch(let expected, let context) = error else { return nil }
        let path = context.codingPath.map(\.stringValue)
        guard let found = root.value(at: path) else { return nil }
        switch found {
        case .string(let s):
            let trimmed = s.trimmingCharacters(in: .whitespaces)
            if expected == Bool.self, let b = Bool(trimmed) { return (path, .bool(b)) }
            if expected != String.self, isJSONNumber(trimmed), let n = Double(trimmed), n.isFinite { return (path, .number(n)) }
            return nil
        case .number, .bool:
            return expected == String.self ? (path, .string(found.stringValue ?? "")) : nil
        default:
            return nil
        }
    }

    /// Whether `text` is a number as JSON writes one: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    static func isJSONNumber(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Int {
            let count = bytes.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: "0") {
            bytes = bytes.dropFirst()
        } else if digits() == 0 {
            return false
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() > 0 else { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }

    private static func refusal(for error: DecodingError) -> Refusal {
        switch error {
        case .keyNotFound(let key, let context):
            let field = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return .badRequest("\(field) is required", field: field)
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            guard !field.isEmpty else { return .badRequest("the body must be \(describe(type))") }
            return .badRequest("\(field) must be \(describe(type))", field: field)
        case .dataCorrupted(let context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return .badRequest("\(field.isEmpty ? "body" : field): \(context.debugDescription)", field: field.isEmpty ? nil : field)
        @unknown default:
            return .badRequest("invalid body")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is any BinaryInteger.Type: "an integer"
        case is any BinaryFloatingPoint.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [String: Any].Type: "a JSON object"
        case is [Any].Type: "a JSON array"
        default: "of type \(type)"
        }
    }
}

extension JSONValue {
    func value(at path: [String]) -> JSONValue? {
        guard let head = path.first else { return self }
        switch self {
        case .object(let fields): return fields[head]?.value(at: Array(path.dropFirst()))
        case .array(let items):
            guard let index = Int(head.replacingOccurrences(of: "Index ", with: "")), items.indices.contains(index) else { return nil }
            return items[index].value(at: Array(path.dropFirst()))
        default: return nil
        }
    }

    /// Every number no integer field can hold (a fraction, or beyond Int64), with its path.
    func nonIntegerNumbers(prefix: [String] = []) -> [([String], Double)] {
        switch self {
        case .number(let n): return n.rounded() == n && abs(n) < 9.2e18 ? [] : [(prefix, n)]
        case .object(let fields): return fields.flatMap { $0.value.nonIntegerNumbers(prefix: prefix + [$0.key]) }
        case .array(let items): return items.enumerated().flatMap { $0.element.nonIntegerNumbers(prefix: prefix + ["Index \($0.offset)"]) }
        default: return []
        }
    }

    func replacing(at path: [String], with value: JSONValue) -> JSONValue {
        guard let head = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch self {
        case .object(var fields):
            fields[head] = fields[head]?.replacing(at: rest, with: value)
            return .object(fields)
        case .array(var items):
            guard let index = Int(head.replacingOccurrences(of: "Index ", with: "")), items.indices.contains(index) else { return self }
            items[index] = items[index].replacing(at: rest, with: value)
            return .array(items)
        default: return self
        }
    }
}
