import Chassis
import Foundation

/// The body reserve sends to `POST /payments` (the seed's Feign `Payment`).
public struct PaymentRequest: Codable, Sendable, Equatable {
    public var matchId: Int64
    public var price: Int
    public var paymentAction: String
    public var customer: String
    public var startDay: String
    public var endDay: String
    public var name: String?

    public init(matchId: Int64, price: Int, paymentAction: String = "Approved", customer: String, startDay: String, endDay: String, name: String?) {
        self.matchId = matchId; self.price = price; self.paymentAction = paymentAction; self.customer = customer
        self.startDay = startDay; self.endDay = endDay; self.name = name
    }
}

/// Rental days are `yyyyMMdd` strings, as in the seed; these checks are shared by the
/// services that accept them.
public enum RentalDay {
    /// Throws a 400 naming `field` unless `value` is a real calendar day in `yyyyMMdd`.
    public static func check(_ value: String, field: String) throws {
        guard value.count == 8, let number = Int(value) else {
            throw Refusal.badRequest("\(field) must be a day as yyyyMMdd, got \"\(value)\"", field: field)
        }
        let (year, month, day) = (number / 10000, number / 100 % 100, number % 100)
        let days = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard year >= 1900, (1...12).contains(month), (1...days[month - 1]).contains(day) else {
            throw Refusal.badRequest("\(field) is not a calendar day: \(value)", field: field)
        }
    }

    /// Today as `yyyyMMdd`, in this process's time zone (`TZ`): the day a request is made.
    /// (`localtime_r`, not `Calendar`: it runs for every request.)
    public static func today(_ now: Date = Date()) -> String {
        var seconds = time_t(now.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        let number = (Int(parts.tm_year) + 1900) * 10000 + (Int(parts.tm_mon) + 1) * 100 + Int(parts.tm_mday)
        return String(number)
    }

    /// Checks both days and that the period does not end before it starts.
    public static func checkPeriod(start: String, end: String) throws {
        try check(start, field: "startDay")
        try check(end, field: "endDay")
        guard end >= start else { throw Refusal.invalid("endDay \(end) is before startDay \(start)", field: "endDay") }
    }
}
