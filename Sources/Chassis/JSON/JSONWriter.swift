import Foundation

/// Writes a ``JSONValue`` as text, byte for byte as ``JSON/encode(_:)-generic`` writes it
/// through Foundation: keys in UTF-8 byte order, slashes not escaped, control characters
/// as `\n`-style or `\u00xx` escapes, integral numbers as integers, others as Swift prints them.
///
/// HAL responses, merged PATCH bodies and coerced request bodies are `JSONValue`s, written
/// on every request; Foundation's encoder would first rebuild each as its own tree through
/// `Encodable`'s dynamic dispatch, which is most of its cost.
enum JSONWriter {
    struct InvalidNumber: Error, CustomStringConvertible {
        let value: Double
        var description: String { "\(value) cannot be written as JSON" }
    }

    static func write(_ value: JSONValue) throws -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try write(value, into: &out)
        return Data(out)
    }

    private static func write(_ value: JSONValue, into out: inout [UInt8]) throws {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): try write(n, into: &out)
        case .string(let s): write(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                try write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (index, key) in fields.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(key, into: &out)
                out.append(UInt8(ascii: ":"))
                try write(fields[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func write(_ number: Double, into out: inout [UInt8]) throws {
        guard number.isFinite else { throw InvalidNumber(value: number) }
        // As `JSONValue.encode(to:)` does: integral numbers an Int64 holds exactly, as integers.
        if number.rounded() == number, abs(number) < 9e15 {
            out.append(contentsOf: String(Int64(number)).utf8)
            return
        }
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func write(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
