import Chassis
import VaccineContracts

/// user (8081): where a person looks up dates, books, and cancels.
///
/// - `POST /user/date {userName, userRegNumber}`: the open dates, asked of reservation
///   synchronously (real time, the seed's requirement). Reservation slow (past
///   `RESERVATION_TIMEOUT_MS`, 810 as the seed's Hystrix), down or its breaker open: the
///   dates reservation last gave this process, marked `"stale": true` with their `asOf`,
///   if they are at most `USER_STALE_DATES_S` (600) old; else 503 + `Retry-After` with the
///   seed's message, "조회 폭주로 서비스 지연 중입니다".
/// - `POST /user/reserve {userName, userRegNumber, reserveDate}`: 201 with the booking
///   (`RESERVE`), then reservation decides by event (the seed: bookings go on while the
///   hospital, or reservation, is down). A person with an active booking gets 409. A date
///   reservation says is closed or full is a 409 at once; when it cannot say, the booking is
///   taken and a rejection reaches the person as `REJECTED` with its reason.
/// - `POST /user/cancel {userId}`: `CANCEL`, undone along the chain; after the injection 409.
/// - `GET /users`, `GET /users/{id}`: the bookings, numbers masked.
public let userService = ServiceDefinition(name: "user", policies: userPolicies) { router, runtime in
    let reservation = runtime.client(for: "reservation", defaultURL: "http://127.0.0.1:8082",
                                     defaults: CallPolicy(timeout: .milliseconds(810), retries: 0))
    let knownDates = LastGoodAnswer<AvailableDates>(maxAge: .seconds(runtime.setting("USER_STALE_DATES_S", default: 600)))
    router.post("user/date") { request, _ in
        let person = try await JSONResponse.decode(DateLookup.self, from: request).person
        let answer = try await busyWhenUnavailable {
            try await knownDates.fetch { try await reservation.get("/reservation/date").decode(AvailableDates.self) }
        }
        return try JSONResponse.make(.ok, encoding: DatesAnswer(person, answer))
    }
    Resource<User>(store: runtime.store)
        .searchable(by: "reserveStatus", "reserveDate")
        .command("user/reserve", Booking.self, creates: true, preparing: { booking in
            let closed = try await withFallback {
                try await reservation.get("/reservation/date/\(booking.day.iso)").decode(OpenDate.self).refusal
            } fallback: { _ in nil }
            if let closed { throw closed }
        }) { booking, _, tx in try await reserve(booking, tx) }
        .command("user/cancel", Cancellation.self) { cancellation, tx in
            try await tx.update(User.self, id: cancellation.userId) { try $0.cancel(at: Clock.timestamp()) }
        }
        .register(on: router)
}

/// Books for the person unless they have an active booking; the check and the booking
/// are one transaction, so two requests at once cannot both book.
private func reserve(_ booking: Booking, _ tx: any StoreTransaction) async throws -> User {
    var resident = try await tx.get(Resident.self, id: booking.number.digits) ?? Resident(id: booking.number.digits)
    if let latest = resident.latestUserId, let active = try await tx.get(User.self, id: latest), active.reserveStatus == .reserve {
        throw Refusal.conflict("\(booking.number.masked) already has an active booking (user \(latest), \(active.reserveDate)); cancel it first",
                               field: "userRegNumber")
    }
    let user = try await tx.save(User(booking))
    resident.latestUserId = user.id
    try await tx.save(resident)
    try await tx.publish(user.reserved)
    return user
}

/// What `POST /user/date` answers.
struct DatesAnswer: Encodable {
    var userName: String
    var userRegNumber: String
    var dates: [OpenDate]
    /// True when reservation could not answer and these are the dates it gave before.
    var stale: Bool
    var asOf: String

    init(_ person: Person, _ answer: LastGoodAnswer<AvailableDates>.Answer) {
        userName = person.userName
        userRegNumber = person.number.masked
        dates = answer.value.dates
        stale = answer.isStale
        asOf = Clock.timestamp(millis: answer.asOf)
    }
}

extension OpenDate {
    /// Why a booking of this day is refused at once, or nil when it has room.
    var refusal: Refusal? {
        if !open { return .conflict("\(reserveDate) is not open for booking; POST /user/date lists the open dates", field: "reserveDate") }
        if available == 0 { return .conflict("\(reserveDate) is fully booked; POST /user/date lists the dates with room", field: "reserveDate") }
        return nil
    }
}

/// The seed's fallback message for a look-up reservation could not answer.
private func busyWhenUnavailable<T>(_ call: () async throws -> T) async throws -> T {
    do { return try await call() } catch Refusal.unavailable(let why, let seconds) {
        throw Refusal.unavailable("조회 폭주로 서비스 지연 중입니다: the available dates cannot be looked up now (\(why)); try again shortly",
                                  retryAfterSeconds: seconds)
    }
}

/// The person's booking follows what the chain decides: a rejection, and the injection
/// (with the vaccine given; the hospital's choice before it is on the dashboard, as in the
/// seed, where user learnt the vaccine type from the injection).
let userPolicies = Policies()
    .on(ReservationRejected.self) { e, tx in
        try await tx.updateIfPresent(User.self, id: e.userId) { user in
            user.reject(e.reason)
            return []
        }
    }
    .on(VaccineInjected.self) { e, tx in
        try await tx.updateIfPresent(User.self, id: e.userId) { user in
            user.inject(e)
            return []
        }
    }
