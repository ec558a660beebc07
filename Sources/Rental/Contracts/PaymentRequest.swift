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
        guard value.count == 8, value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw Refusal.badRequest("\(field) must be a day as yyyyMMdd, got \"\(value)\"", field: field)
        }
        guard let day = CalendarDay(compact: value), day.year >= 1900 else {
            throw Refusal.badRequest("\(field) is not a calendar day: \(value)", field: field)
        }
    }

    /// Today as `yyyyMMdd`, in this process's time zone (`TZ`): the day a request is made.
    public static func today(_ now: Date = Date()) -> String { CalendarDay.today(now).compact }

    /// Checks both days and that the period does not end before it starts.
    public static func checkPeriod(start: String, end: String) throws {
        try check(start, field: "startDay")
        try check(end, field: "endDay")
        guard end >= start else { throw Refusal.invalid("endDay \(end) is before startDay \(start)", field: "endDay") }
    }
}
