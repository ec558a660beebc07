import Chassis

/// What reservation answers about its calendar (`GET /reservation/date`, and
/// `GET /reservation/date/{yyyy-MM-dd}` for one day): the days open for booking, each with
/// its daily capacity and the places left.
public struct AvailableDates: Codable, Sendable, Equatable {
    public var dates: [OpenDate]
    public init(dates: [OpenDate]) { self.dates = dates }
}

public struct OpenDate: Codable, Sendable, Equatable {
    public var reserveDate: String
    /// False for a day outside the calendar (only in the answer about one day).
    public var open: Bool
    public var capacity: Int
    public var booked: Int
    public var available: Int
    public init(reserveDate: String, open: Bool, capacity: Int, booked: Int) {
        self.reserveDate = reserveDate; self.open = open; self.capacity = capacity; self.booked = booked
        self.available = open ? max(0, capacity - booked) : 0
    }
}
