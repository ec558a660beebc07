import Foundation

/// The checks a command's input makes field by field in its `init(from:)`, each a 400
/// naming the field: a value that does not fit is refused before anything runs.
///
/// ```swift
/// username = try body.text(.username, length: 1...50)
/// qty = try body.number(.qty, in: 1...100)
/// ```
///
/// A missing key or a value of the wrong type is the decoder's own 400 naming the field.
extension KeyedDecodingContainer {
    /// The text at `key`, trimmed of surrounding spaces, `length` characters long.
    public func text(_ key: Key, length: ClosedRange<Int>) throws -> String {
        let value = try decode(String.self, forKey: key).trimmingCharacters(in: .whitespaces)
        guard length.contains(value.count) else {
            throw Refusal.badRequest("\(key.stringValue) must be \(length.lowerBound) to \(length.upperBound) characters", field: key.stringValue)
        }
        return value
    }

    /// A phone number at `key`: 8 to 20 digits, hyphens and a leading `+` allowed.
    public func phoneNumber(_ key: Key) throws -> String {
        let value = try decode(String.self, forKey: key).trimmingCharacters(in: .whitespaces)
        guard (8...20).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }) else {
            throw Refusal.badRequest("\(key.stringValue) must be 8 to 20 digits (hyphens and a leading + allowed)", field: key.stringValue)
        }
        return value
    }

    /// The whole number at `key` (httpie's `qty=1` string taken), within `range`; `unit`
    /// follows the bounds in the refusal (`productPrice must be 0 to 1000000000 won`).
    public func number<N: FixedWidthInteger & Decodable>(_ key: Key, in range: ClosedRange<N>, unit: String = "") throws -> N {
        let value = try decode(N.self, forKey: key)
        guard range.contains(value) else {
            throw Refusal.badRequest("\(key.stringValue) must be \(range.lowerBound) to \(range.upperBound)\(unit.isEmpty ? "" : " " + unit)",
                                     field: key.stringValue)
        }
        return value
    }
}
