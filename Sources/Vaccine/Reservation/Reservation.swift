import Chassis
import VaccineContracts

/// A booking as reservation keeps it. Its id is the booking's (user's) id: one reservation
/// per booking by construction.
struct Reservation: Entity, Equatable {
    static let collection = "reservations"
    var id: Int64?
    var userId: Int64
    var userName: String
    var userRegNumber: String
    var reserveDate: String
    var reserveStatus: Status
    var cancelDate: String?
    var rejectReason: String?

    enum Status: String, EntityStatus {
        case reserve = "RESERVE", cancel = "CANCEL", inject = "INJECT", rejected = "REJECTED"
    }

    /// Books `request` on its day if the calendar has room there (taking a place), else
    /// records it rejected with the reason.
    static func book(_ request: UserReserved, on place: inout ReserveDay, _ calendar: BookingCalendar) -> (Reservation, [any DomainEvent]) {
        var reservation = Reservation(id: request.userId, userId: request.userId, userName: request.userName, userRegNumber: request.userRegNumber,
                                      reserveDate: request.reserveDate, reserveStatus: .reserve)
        if let reason = calendar.refusal(of: CalendarDay(iso: request.reserveDate), booked: place.booked) {
            reservation.reserveStatus = .rejected
            reservation.rejectReason = reason
            return (reservation, [reservation.rejected])
        }
        place.booked += 1
        return (reservation, [ReservationRequested(id: request.userId, userId: request.userId, userName: request.userName,
                                                   userRegNumber: request.userRegNumber, reserveDate: request.reserveDate)])
    }

    /// The person cancelled: the place is freed. Nothing to do for a booking already
    /// rejected or cancelled; an injected one stays injected (the hospital's word wins).
    mutating func cancel(at date: String, freeing place: inout ReserveDay) -> [any DomainEvent] {
        guard reserveStatus == .reserve else { return [] }
        reserveStatus = .cancel
        cancelDate = date
        place.booked -= 1
        return [ReservationCancelled(userId: userId, reserveDate: reserveDate, cancelDate: date)]
    }

    /// The hospital could not keep the booking (no dose): the place is freed.
    mutating func reject(_ reason: String, freeing place: inout ReserveDay) -> [any DomainEvent] {
        guard reserveStatus == .reserve else { return [] }
        reserveStatus = .rejected
        rejectReason = reason
        place.booked -= 1
        return [rejected]
    }

    /// The person was injected. Had their cancellation crossed the injection, the place
    /// they did take counts again.
    mutating func inject(taking place: inout ReserveDay) {
        if reserveStatus == .cancel { place.booked += 1 }
        reserveStatus = .inject
    }

    private var rejected: ReservationRejected {
        ReservationRejected(userId: userId, userName: userName, userRegNumber: userRegNumber, reserveDate: reserveDate, reason: rejectReason ?? "")
    }
}

/// One calendar day's bookings (id: the day as `yyyyMMdd`).
struct ReserveDay: Entity, Equatable {
    static let collection = "reserveDays"
    var id: Int64?
    var reserveDate: String
    var booked: Int

    init(_ day: CalendarDay, booked: Int = 0) {
        id = day.number
        reserveDate = day.iso
        self.booked = booked
    }

    /// The place of a date that is no calendar day: never kept (the calendar refuses it).
    init(unbookable date: String) {
        id = nil
        reserveDate = date
        booked = 0
    }
}

/// reservation (8082): the date capacity calendar, and each booking's place in it.
/// `GET /reservation/date` answers the open days with room (user's look-up, synchronous);
/// `GET /reservation/date/2021-10-05` one day, open or not. `RESERVATION_DELAY_MS` slows
/// them, as the seed's overload experiment did (`600-820`).
public let reservationService = ServiceDefinition(name: "reservation", configuredPolicies: { runtime in
    reservationPolicies(BookingCalendar(runtime))
}) { router, runtime in
    let calendar = BookingCalendar(runtime)
    Resource<Reservation>(store: runtime.store).searchable(by: "userId", "reserveStatus", "reserveDate").register(on: router)
    router.get("reservation/date") { _, _ in
        // The calendar's days in one read: their ids are the days as numbers, in order.
        let first = calendar.firstDay
        let kept = try await runtime.store.all(ReserveDay.self, DocumentQuery(limit: calendar.days, afterId: first.number - 1))
        let booked = Dictionary(kept.map { ($0.id!, $0.booked) }) { a, _ in a }
        let open = calendar.openDays.map { calendar.date($0, booked: booked[$0.number] ?? 0) }.filter { $0.available > 0 }
        return try JSONResponse.make(.ok, encoding: AvailableDates(dates: open))
    }
    router.get("reservation/date/:day") { _, context in
        let day = try CalendarDay(iso: context.parameters.get("day") ?? "", field: "reserveDate")
        return try JSONResponse.make(.ok, encoding: calendar.date(day, booked: try await runtime.store.get(ReserveDay.self, id: day.number)?.booked ?? 0))
    }
}

func reservationPolicies(_ calendar: BookingCalendar) -> Policies {
    Policies()
        .on(UserReserved.self) { e, tx in
            guard try await tx.get(Reservation.self, id: e.userId) == nil else { return }
            try await onPlace(of: e.reserveDate, tx) { place in
                let (reservation, events) = Reservation.book(e, on: &place, calendar)
                try await tx.save(reservation)
                return events
            }
        }
        .on(UserCancelled.self) { e, tx in
            try await onReservation(e.userId, tx) { reservation, place in reservation.cancel(at: e.cancelDate, freeing: &place) }
        }
        .on(HospitalReservationRejected.self) { e, tx in
            try await onReservation(e.userId, tx) { reservation, place in reservation.reject(e.reason, freeing: &place) }
        }
        .on(VaccineInjected.self) { e, tx in
            try await onReservation(e.userId, tx) { reservation, place in
                reservation.inject(taking: &place)
                return []
            }
        }
}

/// Runs `change` on the day's bookings and saves them with the events it returns.
private func onPlace(of date: String, _ tx: any StoreTransaction, _ change: (inout ReserveDay) async throws -> [any DomainEvent]) async throws {
    var place = ReserveDay(unbookable: date)
    if let day = CalendarDay(iso: date) { place = try await tx.get(ReserveDay.self, id: day.number) ?? ReserveDay(day) }
    let before = place
    let events = try await change(&place)
    if place.id != nil && place != before { try await tx.save(place) }
    try await tx.publish(events)
}

/// Runs `change` on the booking `userId` and its day, if reservation has it.
private func onReservation(_ userId: Int64, _ tx: any StoreTransaction,
                           _ change: @escaping (inout Reservation, inout ReserveDay) -> [any DomainEvent]) async throws {
    guard var reservation = try await tx.get(Reservation.self, id: userId) else { return }
    try await onPlace(of: reservation.reserveDate, tx) { place in
        let before = reservation
        let events = change(&reservation, &place)
        if reservation != before { try await tx.save(reservation) }
        return events
    }
}
