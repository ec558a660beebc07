import Chassis
import VaccineContracts

/// The days reservation takes bookings for, and how many people a day. Configured by
/// (defaults in brackets):
///
/// | setting | meaning |
/// |---|---|
/// | `RESERVATION_FIRST_DAY` (today) | the first bookable day, `yyyy-MM-dd`; unset, the calendar moves with the clock (`TZ`) |
/// | `RESERVATION_DAYS` (14) | how many days from the first are open |
/// | `RESERVATION_DAILY_CAPACITY` (100) | bookings a day takes |
///
/// **(decision)** The seed books `2021-10-05`, in the week its team demonstrated it. A
/// calendar that always started today would refuse the seed's own commands, so `msa up
/// vaccine` opens the calendar on 2021-10-01 (``SystemDefinition/Member/localSettings``),
/// and a deployment that sets nothing opens it today.
struct BookingCalendar: Sendable {
    let fixedFirstDay: CalendarDay?
    let days: Int
    let capacity: Int

    init(firstDay: CalendarDay?, days: Int, capacity: Int) {
        fixedFirstDay = firstDay
        self.days = max(1, days)
        self.capacity = max(0, capacity)
    }

    init(_ runtime: ServiceRuntime) {
        let first = runtime.setting("RESERVATION_FIRST_DAY", default: "")
        let day = CalendarDay(iso: first)
        if !first.isEmpty && day == nil {
            runtime.logger.error("RESERVATION_FIRST_DAY is not a yyyy-MM-dd day; the calendar opens today", metadata: ["value": "\(first)"])
        }
        self.init(firstDay: day, days: runtime.setting("RESERVATION_DAYS", default: 14),
                  capacity: runtime.setting("RESERVATION_DAILY_CAPACITY", default: 100))
    }

    var firstDay: CalendarDay { fixedFirstDay ?? .today() }
    var lastDay: CalendarDay { firstDay.adding(days: days - 1) }
    var openDays: [CalendarDay] { (0..<days).map(firstDay.adding(days:)) }

    func isOpen(_ day: CalendarDay) -> Bool { day >= firstDay && day <= lastDay }

    func date(_ day: CalendarDay, booked: Int) -> OpenDate {
        OpenDate(reserveDate: day.iso, open: isOpen(day), capacity: capacity, booked: booked)
    }

    /// Why `day` takes no booking now, or nil when it has room for `booked + 1`.
    func refusal(of day: CalendarDay?, booked: Int) -> String? {
        guard let day, isOpen(day) else {
            return "\(day?.iso ?? "the date") is not open for booking: the calendar takes \(firstDay.iso) to \(lastDay.iso)"
        }
        return booked < capacity ? nil : "\(day.iso) is fully booked (\(capacity) a day)"
    }
}
