import Chassis

// The Vaccine system's published language. One booking is one `userId` (user's record of
// it, as in the seed, where `POST /hospital/inject {"userId": 1}` names the booking), and
// every event about it is keyed by that id: a booking's events land in one partition, in
// publish order, whichever service publishes them.
//
// Personal numbers travel masked (`930619-2******`): only user keeps the whole number,
// and an event is copied into other stores, logs and dead letters.

/// A person booked a date at user (`POST /user/reserve`); reservation decides whether the
/// date has room.
public struct UserReserved: DomainEvent, Equatable {
    public var userId: Int64
    public var userName: String
    /// Masked.
    public var userRegNumber: String
    public var reserveDate: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, userName: String, userRegNumber: String, reserveDate: String) {
        self.userId = userId; self.userName = userName; self.userRegNumber = userRegNumber; self.reserveDate = reserveDate
    }
}

/// A person cancelled their booking at user (`POST /user/cancel`).
public struct UserCancelled: DomainEvent, Equatable {
    public var userId: Int64
    public var cancelDate: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, cancelDate: String) { self.userId = userId; self.cancelDate = cancelDate }
}

/// reservation booked the date (it had room) and asks the hospital to expect the person.
public struct ReservationRequested: DomainEvent, Equatable {
    public var id: Int64
    public var userId: Int64
    public var userName: String
    public var userRegNumber: String
    public var reserveDate: String
    public var reserveStatus: String
    public var correlationKey: String { String(userId) }
    public init(id: Int64, userId: Int64, userName: String, userRegNumber: String, reserveDate: String, reserveStatus: String = "RESERVE") {
        self.id = id; self.userId = userId; self.userName = userName; self.userRegNumber = userRegNumber
        self.reserveDate = reserveDate; self.reserveStatus = reserveStatus
    }
}

/// **(decision)** A booking was turned down: by reservation (the date not open or full),
/// or along the chain when stock had no dose of the chosen vaccine. `reason` is what the
/// person is told.
public struct ReservationRejected: DomainEvent, Equatable {
    public var userId: Int64
    public var userName: String
    public var userRegNumber: String
    public var reserveDate: String
    public var reserveStatus: String
    public var reason: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, userName: String, userRegNumber: String, reserveDate: String, reserveStatus: String = "REJECTED", reason: String) {
        self.userId = userId; self.userName = userName; self.userRegNumber = userRegNumber; self.reserveDate = reserveDate
        self.reserveStatus = reserveStatus; self.reason = reason
    }
}

/// reservation cancelled a booking and freed its place on the date.
public struct ReservationCancelled: DomainEvent, Equatable {
    public var userId: Int64
    public var reserveDate: String
    public var reserveStatus: String
    public var cancelDate: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, reserveDate: String, reserveStatus: String = "CANCEL", cancelDate: String) {
        self.userId = userId; self.reserveDate = reserveDate; self.reserveStatus = reserveStatus; self.cancelDate = cancelDate
    }
}

/// The hospital expects the person and chose their vaccine (the seed's KakaoTalk moment).
public struct HospitalReservationReceived: DomainEvent, Equatable {
    public var id: Int64
    public var hospitalName: String
    public var userId: Int64
    public var userName: String
    public var userRegNumber: String
    public var reserveDate: String
    public var reserveStatus: String
    public var vaccineType: String
    public var correlationKey: String { String(userId) }
    public init(id: Int64, hospitalName: String, userId: Int64, userName: String, userRegNumber: String, reserveDate: String,
                reserveStatus: String = "RESERVE", vaccineType: String) {
        self.id = id; self.hospitalName = hospitalName; self.userId = userId; self.userName = userName; self.userRegNumber = userRegNumber
        self.reserveDate = reserveDate; self.reserveStatus = reserveStatus; self.vaccineType = vaccineType
    }
}

/// The hospital dropped a cancelled booking: its dose goes back to stock.
public struct HospitalReservationCancelled: DomainEvent, Equatable {
    public var userId: Int64
    public var vaccineType: String
    public var reserveStatus: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, vaccineType: String, reserveStatus: String = "CANCEL") {
        self.userId = userId; self.vaccineType = vaccineType; self.reserveStatus = reserveStatus
    }
}

/// **(decision)** The hospital dropped a booking stock had no dose for.
public struct HospitalReservationRejected: DomainEvent, Equatable {
    public var userId: Int64
    public var vaccineType: String
    public var reason: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, vaccineType: String, reason: String) { self.userId = userId; self.vaccineType = vaccineType; self.reason = reason }
}

/// **(decision)** stock set a dose aside for the booking (its -1): the hospital may inject.
public struct VaccineAllocated: DomainEvent, Equatable {
    public var userId: Int64
    public var vaccineType: String
    /// Doses of this type left after this one.
    public var remaining: Int
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, vaccineType: String, remaining: Int) { self.userId = userId; self.vaccineType = vaccineType; self.remaining = remaining }
}

/// **(decision)** stock had no dose of the chosen type: the booking is rejected back along
/// the chain.
public struct VaccineShortage: DomainEvent, Equatable {
    public var userId: Int64
    public var vaccineType: String
    public var reason: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, vaccineType: String, reason: String) { self.userId = userId; self.vaccineType = vaccineType; self.reason = reason }
}

/// The person was injected (`POST /hospital/inject`).
public struct VaccineInjected: DomainEvent, Equatable {
    public var userId: Int64
    public var injectDate: String
    public var vaccineType: String
    public var hospitalName: String
    public var correlationKey: String { String(userId) }
    public init(userId: Int64, injectDate: String, vaccineType: String, hospitalName: String) {
        self.userId = userId; self.injectDate = injectDate; self.vaccineType = vaccineType; self.hospitalName = hospitalName
    }
}
