import Chassis
import VaccineContracts

/// A booking as the hospital keeps it, with the vaccine it chose. Its id is the booking's
/// (user's) id: one per booking by construction.
struct Hospital: Entity, Equatable {
    static let collection = "hospitals"
    var id: Int64?
    var hospitalName: String
    var userId: Int64
    var userName: String
    var userRegNumber: String
    var reserveDate: String
    var reserveStatus: Status
    var vaccineType: String
    /// **(decision)** Whether stock set the dose aside (`VaccineAllocated`): no injection
    /// before it, so no dose is given that stock did not have.
    var doseAllocated: Bool
    var injectDate: String?
    var rejectReason: String?

    enum Status: String, EntityStatus {
        case reserve = "RESERVE", cancel = "CANCEL", inject = "INJECT", rejected = "REJECTED"
    }

    static func receive(_ request: ReservationRequested, at hospital: String, choosing vaccine: String) -> (Hospital, [any DomainEvent]) {
        let booking = Hospital(id: request.userId, hospitalName: hospital, userId: request.userId, userName: request.userName,
                               userRegNumber: request.userRegNumber, reserveDate: request.reserveDate, reserveStatus: .reserve,
                               vaccineType: vaccine, doseAllocated: false)
        return (booking, [HospitalReservationReceived(id: request.userId, hospitalName: hospital, userId: request.userId, userName: request.userName,
                                                      userRegNumber: request.userRegNumber, reserveDate: request.reserveDate, vaccineType: vaccine)])
    }

    mutating func allocate() {
        if reserveStatus == .reserve { doseAllocated = true }
    }

    /// Stock has no dose: the booking is dropped, and the chain told why.
    mutating func reject(_ reason: String) -> [any DomainEvent] {
        guard reserveStatus == .reserve else { return [] }
        reserveStatus = .rejected
        rejectReason = reason
        return [HospitalReservationRejected(userId: userId, vaccineType: vaccineType, reason: reason)]
    }

    /// The person cancelled: the dose goes back. An injection already given stands.
    mutating func cancel() -> [any DomainEvent] {
        guard reserveStatus == .reserve else { return [] }
        reserveStatus = .cancel
        return [HospitalReservationCancelled(userId: userId, vaccineType: vaccineType)]
    }

    mutating func inject(at time: String) throws -> [any DomainEvent] {
        switch reserveStatus {
        case .inject: throw Refusal.conflict("user \(userId) was already injected (\(injectDate ?? "")) with \(vaccineType)", field: "userId")
        case .cancel: throw Refusal.conflict("the booking of user \(userId) was cancelled", field: "userId")
        case .rejected: throw Refusal.conflict("the booking of user \(userId) was rejected: \(rejectReason ?? "")", field: "userId")
        case .reserve:
            guard doseAllocated else {
                throw Refusal.conflict("the \(vaccineType) dose of user \(userId) is not yet confirmed by the vaccine stock; try again shortly", field: "userId")
            }
            reserveStatus = .inject
            injectDate = time
            return [VaccineInjected(userId: userId, injectDate: time, vaccineType: vaccineType, hospitalName: hospitalName)]
        }
    }
}

/// `POST /hospital/inject`'s body.
struct Injection: Decodable, Sendable {
    var userId: Int64
}

/// The vaccines the hospital gives, from `VACCINE_TYPE` (the seed's ConfigMap
/// `vaccine-type`), comma-separated; unset or empty, the seed's four.
struct VaccineTypes: Sendable {
    static let seed = ["Pfizer", "Moderna", "Janssen", "AstraZeneca"]
    let names: [String]

    init(_ setting: String) {
        let names = setting.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        self.names = names.isEmpty ? Self.seed : names
    }

    /// One at random, each equally likely (the seed's `(int)(Math.random() * 10) % 4`
    /// favoured the first two).
    func pick() -> String { names.randomElement()! }
}

/// hospital (8083): expects each booked person, chooses their vaccine at random from
/// `VACCINE_TYPE`, and injects them (`POST /hospital/inject {"userId": 1}`) once stock set
/// their dose aside. Named by `HOSPITAL_NAME` ("Korean Hospital", the seed's).
public let hospitalService = ServiceDefinition(name: "hospital", configuredPolicies: { runtime in
    hospitalPolicies(name: runtime.setting("HOSPITAL_NAME", default: "Korean Hospital"),
                     vaccines: VaccineTypes(runtime.setting("VACCINE_TYPE", default: "")))
}) { router, runtime in
    Resource<Hospital>(store: runtime.store)
        .searchable(by: "userId", "vaccineType", "reserveStatus")
        .command("hospital/inject", Injection.self) { injection, tx in
            guard var booking = try await tx.get(Hospital.self, id: injection.userId) else {
                throw Refusal.notFound("the hospital has no booking of user \(injection.userId) (a new booking reaches it moments after it is made)")
            }
            try await tx.publish(try booking.inject(at: Clock.timestamp()))
            return try await tx.save(booking)
        }
        .register(on: router)
}

func hospitalPolicies(name: String, vaccines: VaccineTypes) -> Policies {
    Policies()
        .on(ReservationRequested.self) { e, tx in
            guard try await tx.get(Hospital.self, id: e.userId) == nil else { return }
            let (booking, events) = Hospital.receive(e, at: name, choosing: vaccines.pick())
            try await tx.save(booking)
            try await tx.publish(events)
        }
        .on(ReservationCancelled.self) { e, tx in try await tx.updateIfPresent(Hospital.self, id: e.userId) { $0.cancel() } }
        .on(VaccineAllocated.self) { e, tx in
            try await tx.updateIfPresent(Hospital.self, id: e.userId) { booking in
                booking.allocate()
                return []
            }
        }
        .on(VaccineShortage.self) { e, tx in try await tx.updateIfPresent(Hospital.self, id: e.userId) { $0.reject(e.reason) } }
}
