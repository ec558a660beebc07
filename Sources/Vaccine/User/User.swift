import Chassis
import VaccineContracts

/// A booking as the person sees it (the seed's `User`: one row per booking, whose id is
/// the `userId` every other service and the seed's `POST /hospital/inject` name). The
/// personal number is kept masked here; the whole number is in ``Resident`` only.
struct User: Entity, Equatable {
    static let collection = "users"
    var id: Int64?
    var userName: String
    /// Masked (`890309-2******`).
    var userRegNumber: String
    var reserveStatus: Status
    var reserveDate: String
    var modifyDate: String
    var injectDate: String?
    var vaccineType: String?
    /// **(decision)** Why a `REJECTED` booking was turned down, as the person reads it.
    var rejectReason: String?

    enum Status: String, EntityStatus {
        case reserve = "RESERVE", cancel = "CANCEL", inject = "INJECT", rejected = "REJECTED"
    }

    init(_ booking: Booking) {
        userName = booking.userName
        userRegNumber = booking.number.masked
        reserveStatus = .reserve
        reserveDate = booking.day.iso
        modifyDate = Clock.timestamp()
    }

    var reserved: UserReserved { UserReserved(userId: id!, userName: userName, userRegNumber: userRegNumber, reserveDate: reserveDate) }

    mutating func cancel(at time: String) throws -> [any DomainEvent] {
        switch reserveStatus {
        case .reserve:
            reserveStatus = .cancel
            modifyDate = time
            return [UserCancelled(userId: id!, cancelDate: time)]
        case .inject: throw Refusal.conflict("user \(id!) was injected (\(injectDate ?? "")): an injection cannot be cancelled", field: "userId")
        case .cancel: throw Refusal.conflict("the booking of user \(id!) is already cancelled", field: "userId")
        case .rejected: throw Refusal.conflict("the booking of user \(id!) was rejected: \(rejectReason ?? "")", field: "userId")
        }
    }

    /// The chain turned the booking down. A booking the person cancelled meanwhile stays
    /// cancelled.
    mutating func reject(_ reason: String) {
        guard reserveStatus == .reserve else { return }
        reserveStatus = .rejected
        rejectReason = reason
        modifyDate = Clock.timestamp()
    }

    /// The hospital's word is final: an injection given stands even over a cancellation
    /// that crossed it.
    mutating func inject(_ e: VaccineInjected) {
        reserveStatus = .inject
        injectDate = e.injectDate
        vaccineType = e.vaccineType
        modifyDate = Clock.timestamp()
    }
}

/// The person behind the bookings, and the one record anywhere that holds their whole
/// personal number (**(decision)**: user identifies the person, so only its store keeps
/// the number, as a clinic's patient register would; every answer, event and other store
/// has it masked). Its id is the number's 13 digits: one record per person by
/// construction, found without a search. No route serves it.
struct Resident: Entity, Equatable {
    static let collection = "residents"
    var id: Int64?
    /// The person's latest booking: at most one is active (`RESERVE`) at a time.
    var latestUserId: Int64?
}

/// A person as a request names them: validated, the number in both forms.
struct Person: Sendable {
    let userName: String
    let number: KoreanResidentNumber

    init(userName: String, userRegNumber: String) throws {
        let name = userName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw Refusal.badRequest("userName must not be empty", field: "userName") }
        guard name.count <= 50 else { throw Refusal.badRequest("userName must be at most 50 characters", field: "userName") }
        self.userName = name
        number = try KoreanResidentNumber(userRegNumber, field: "userRegNumber")
    }
}

/// `POST /user/reserve`'s body, validated.
struct Booking: Decodable, Sendable {
    let person: Person
    let day: CalendarDay
    var userName: String { person.userName }
    var number: KoreanResidentNumber { person.number }

    private enum CodingKeys: String, CodingKey { case userName, userRegNumber, reserveDate }

    init(from decoder: any Decoder) throws {
        let body = try decoder.container(keyedBy: CodingKeys.self)
        person = try Person(userName: body.decode(String.self, forKey: .userName), userRegNumber: body.decode(String.self, forKey: .userRegNumber))
        day = try CalendarDay(iso: body.decode(String.self, forKey: .reserveDate), field: "reserveDate")
    }
}

/// `POST /user/date`'s body, validated.
struct DateLookup: Decodable, Sendable {
    let person: Person

    private enum CodingKeys: String, CodingKey { case userName, userRegNumber }

    init(from decoder: any Decoder) throws {
        let body = try decoder.container(keyedBy: CodingKeys.self)
        person = try Person(userName: body.decode(String.self, forKey: .userName), userRegNumber: body.decode(String.self, forKey: .userRegNumber))
    }
}

/// `POST /user/cancel`'s body.
struct Cancellation: Decodable, Sendable {
    var userId: Int64
}
