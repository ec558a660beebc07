/// A Korean resident registration number (주민등록번호), `YYMMDD-GNNNNNN`, validated:
/// the birth date is a real day not after today, and the gender digit `G` is 1–4 (1 and 2
/// for people born in the 1900s, 3 and 4 from 2000; the other digits are foreigners' and
/// the 1800s', which a vaccination booking of a resident does not take).
///
/// There is no check-digit test: numbers issued since October 2020 have random final
/// digits, so a checksum would turn real people away.
///
/// It is personal data. ``masked`` (`930619-2******`) is what every answer, event and
/// log line shows; ``whole`` is for the one store allowed to keep it. Neither the
/// refusals below nor ``description`` repeat the number.
public struct KoreanResidentNumber: Sendable, Hashable, CustomStringConvertible {
    /// The 13 digits as a number: distinct per person (a stable document id).
    public let digits: Int64
    public let birthDate: CalendarDay

    /// Validates `text`, or refuses with a 400 naming `field` that says what is wrong
    /// without repeating the number. `today` bounds the birth date.
    public init(_ text: String, field: String, today: CalendarDay = .today()) throws {
        let bytes = Array(text.utf8)
        func refuse(_ why: String) -> Refusal {
            .badRequest("\(field) must be a resident registration number YYMMDD-NNNNNNN: \(why)", field: field)
        }
        guard bytes.count == 14, bytes[6] == UInt8(ascii: "-") else {
            throw refuse(bytes.count == 13 && bytes.allSatisfy { (48...57).contains($0) }
                ? "the hyphen after the birth date is missing" : "six digits, a hyphen, seven digits")
        }
        var value: Int64 = 0
        for (index, byte) in bytes.enumerated() where index != 6 {
            guard (48...57).contains(byte) else { throw refuse("six digits, a hyphen, seven digits") }
            value = value * 10 + Int64(byte - 48)
        }
        let number = { (range: Range<Int>) in bytes[range].reduce(0) { $0 * 10 + Int($1 - 48) } }
        let gender = Int(bytes[7] - 48)
        guard (1...4).contains(gender) else { throw refuse("the digit after the hyphen must be 1 to 4") }
        let century = gender <= 2 ? 1900 : 2000
        guard let birth = CalendarDay(year: century + number(0..<2), month: number(2..<4), day: number(4..<6)) else {
            throw refuse("the first six digits must be a real birth date")
        }
        guard birth <= today else { throw refuse("the birth date is in the future") }
        digits = value
        birthDate = birth
    }

    /// The number as it was given, `YYMMDD-GNNNNNN`: for the store that keeps it, never
    /// for an answer, an event or a log.
    public var whole: String {
        let text = String(digits)
        let padded = String(repeating: "0", count: 13 - text.count) + text
        return "\(padded.prefix(6))-\(padded.dropFirst(6))"
    }

    /// `YYMMDD-G******`: the birth date and the gender digit, the rest hidden.
    public var masked: String { Redaction.koreanResidentNumber.apply(whole) }

    public var description: String { masked }
}
