import Foundation

/// A day of the Gregorian calendar, without a time or a zone: a booking's date, a rental's
/// first day, a birth date. Ordered; `adding(days:)` steps across months and years.
///
/// ```swift
/// let day = try CalendarDay(iso: "2021-10-05", field: "reserveDate")   // or a 400 naming the field
/// day.iso            // "2021-10-05"
/// day.compact        // "20211005", also `day.number` as an Int64 (a stable document id)
/// day.adding(days: 30)
/// ```
public struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Nil unless `year`-`month`-`day` is a real day (29 February only in a leap year).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), (1...Self.length(of: month, in: year)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `yyyy-MM-dd` exactly (ten characters, digits and two hyphens); nil otherwise.
    public init?(iso text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = Self.digits(bytes[0..<4]), let month = Self.digits(bytes[5..<7]), let day = Self.digits(bytes[8..<10])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Parses `yyyy-MM-dd`, or refuses with a 400 naming `field`. The refusal does not
    /// repeat the text: a field is sometimes given what belongs in another (a personal
    /// number), and an answer is no place to echo it.
    public init(iso text: String, field: String) throws {
        guard let day = CalendarDay(iso: text) else {
            throw Refusal.badRequest("\(field) must be a calendar day as yyyy-MM-dd, such as 2021-10-05", field: field)
        }
        self = day
    }

    /// Parses `yyyyMMdd` exactly; nil otherwise.
    public init?(compact text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 8, let year = Self.digits(bytes[0..<4]), let month = Self.digits(bytes[4..<6]),
              let day = Self.digits(bytes[6..<8]) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Today in this process's time zone (`TZ`). (`localtime_r`, not `Calendar`: cheap
    /// enough for every request.)
    public static func today(_ now: Date = Date()) -> CalendarDay {
        var seconds = time_t(now.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        return CalendarDay(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday))!
    }

    public var iso: String { "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))" }
    public var compact: String { "\(Self.pad(year, 4))\(Self.pad(month, 2))\(Self.pad(day, 2))" }
    /// `yyyyMMdd` as a number: distinct per day and ordered like the days.
    public var number: Int64 { Int64(year * 10000 + month * 100 + day) }
    public var description: String { iso }

    /// The day `days` later (earlier when negative).
    public func adding(days: Int) -> CalendarDay {
        let (year, month, day) = Self.civil(fromDays: daysSinceEpoch + days)
        return CalendarDay(year: year, month: month, day: day)!
    }

    /// Days from 1970-01-01 (negative before it).
    public var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public static func < (a: CalendarDay, b: CalendarDay) -> Bool { a.number < b.number }

    static func length(of month: Int, in year: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    private static func civil(fromDays z: Int) -> (Int, Int, Int) {
        let z = z + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in bytes {
            guard (48...57).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
