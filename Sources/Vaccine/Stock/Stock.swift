import Chassis
import VaccineContracts

/// One movement of the vaccine warehouse, as the seed's `VaccineStock` recorded it: -1 when
/// a dose is set aside for a booking, +1 when a cancelled booking gives it back.
struct Movement: Entity, Equatable {
    static let collection = "stocks"
    var id: Int64?
    var vaccineType: String
    var vaccineCount: Int
    var userId: Int64
}

/// The dose of one booking (id: the booking's user id): set aside at most once and given
/// back at most once, whatever the hospital's events repeat.
struct Dose: Entity, Equatable {
    static let collection = "doses"
    var id: Int64?
    var vaccineType: String
    var taken: Bool
    var returned: Bool
}

/// The sum of the movements of each type (one document): the current stock of a type is
/// its initial stock plus this. Updated in the transaction of each movement, so a check
/// and its -1 cannot interleave with another's: the stock is never negative.
struct Ledger: Entity, Equatable {
    static let collection = "ledger"
    var id: Int64? = 1
    var moved: [String: Int] = [:]
}

/// The initial stock of each type, from `STOCK_INITIAL` (`Pfizer=1000,Moderna=1000,…`;
/// default 1000 of each of the seed's four). A type not named has none.
struct InitialStock: Sendable {
    let counts: [String: Int]

    init(_ setting: String) {
        var counts: [String: Int] = [:]
        for entry in setting.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, !parts[0].isEmpty, let count = Int(parts[1]), count >= 0 { counts[parts[0]] = count }
        }
        self.counts = counts.isEmpty ? Dictionary(uniqueKeysWithValues: ["Pfizer", "Moderna", "Janssen", "AstraZeneca"].map { ($0, 1000) }) : counts
    }

    func level(_ type: String, _ ledger: Ledger) -> StockLevel {
        StockLevel(vaccineType: type, initial: counts[type] ?? 0, moved: ledger.moved[type] ?? 0)
    }

    func levels(_ ledger: Ledger) -> [StockLevel] {
        Set(counts.keys).union(ledger.moved.keys).sorted().map { level($0, ledger) }
    }
}

/// What `GET /stock/{vaccineType}` answers.
struct StockLevel: Encodable, Sendable {
    var vaccineType: String
    var initial: Int
    var moved: Int
    var stock: Int

    init(vaccineType: String, initial: Int, moved: Int) {
        self.vaccineType = vaccineType; self.initial = initial; self.moved = moved; stock = initial + moved
    }
}

/// stock (8084): the vaccine warehouse. Sets a dose aside for each booking the hospital
/// received (`VaccineAllocated`), or says there is none (`VaccineShortage`, and the
/// booking is rejected back along the chain); takes the dose back when the booking is
/// cancelled. `GET /stock` and `GET /stock/Pfizer` show the levels, `GET /stocks` the
/// movements.
public let stockService = ServiceDefinition(name: "stock", configuredPolicies: { runtime in
    stockPolicies(InitialStock(runtime.setting("STOCK_INITIAL", default: "")))
}) { router, runtime in
    let initial = InitialStock(runtime.setting("STOCK_INITIAL", default: ""))
    Resource<Movement>(store: runtime.store).searchable(by: "vaccineType", "userId").register(on: router)
    router.get("stock") { _, _ in
        try JSONResponse.make(.ok, encoding: ["stock": initial.levels(try await runtime.store.get(Ledger.self, id: 1) ?? Ledger())])
    }
    router.get("stock/:vaccineType") { _, context in
        let type = context.parameters.get("vaccineType") ?? ""
        let ledger = try await runtime.store.get(Ledger.self, id: 1) ?? Ledger()
        guard initial.counts[type] != nil || ledger.moved[type] != nil else { throw Refusal.notFound("the stock has no vaccine named \(type)") }
        return try JSONResponse.make(.ok, encoding: initial.level(type, ledger))
    }
}

func stockPolicies(_ initial: InitialStock) -> Policies {
    Policies()
        .on(HospitalReservationReceived.self) { e, tx in
            guard try await tx.get(Dose.self, id: e.userId) == nil else { return }
            var ledger = try await tx.get(Ledger.self, id: 1) ?? Ledger()
            let left = initial.level(e.vaccineType, ledger).stock
            guard left > 0 else {
                try await tx.save(Dose(id: e.userId, vaccineType: e.vaccineType, taken: false, returned: false))
                try await tx.publish(VaccineShortage(userId: e.userId, vaccineType: e.vaccineType, reason: "no \(e.vaccineType) dose is left in stock"))
                return
            }
            try await move(-1, e.vaccineType, for: e.userId, &ledger, tx)
            try await tx.save(Dose(id: e.userId, vaccineType: e.vaccineType, taken: true, returned: false))
            try await tx.publish(VaccineAllocated(userId: e.userId, vaccineType: e.vaccineType, remaining: left - 1))
        }
        .on(HospitalReservationCancelled.self) { e, tx in
            guard var dose = try await tx.get(Dose.self, id: e.userId), dose.taken, !dose.returned else { return }
            var ledger = try await tx.get(Ledger.self, id: 1) ?? Ledger()
            try await move(+1, dose.vaccineType, for: e.userId, &ledger, tx)
            dose.returned = true
            try await tx.save(dose)
        }
}

private func move(_ count: Int, _ type: String, for userId: Int64, _ ledger: inout Ledger, _ tx: any StoreTransaction) async throws {
    ledger.moved[type, default: 0] += count
    try await tx.save(ledger)
    try await tx.save(Movement(vaccineType: type, vaccineCount: count, userId: userId))
}
