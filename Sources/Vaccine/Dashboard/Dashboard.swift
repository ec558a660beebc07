import Chassis
import VaccineContracts

/// One booking as the frontend shows it (the seed's `Dashboard`; id: the booking's user
/// id), built only from events. Events about a booking come from three services, so one
/// may overtake another; the status only moves forward, `RESERVE` → `CANCEL` or
/// `REJECTED` → `INJECT` (an injection given is final), and a late `RESERVE` changes
/// nothing.
struct Dashboard: Entity, Equatable {
    static let collection = "dashboards"
    var id: Int64?
    var userId: Int64
    var userName: String?
    var userRegNumber: String?
    var reserveDate: String?
    var reserveStatus: String?
    var cancelDate: String?
    var injectDate: String?
    var vaccineType: String?
    var hospitalName: String?
    var rejectReason: String?

    init(userId: Int64) {
        id = userId
        self.userId = userId
    }

    static let progress = Precedence(levels: [["RESERVE"], ["CANCEL", "REJECTED"], ["INJECT"]])

    mutating func advance(to status: String) { Self.progress.advance(&reserveStatus, to: status) }

    mutating func person(_ name: String, _ number: String, _ date: String) {
        userName = name
        userRegNumber = number
        reserveDate = date
    }
}

/// dashboard (8085): every booking and its state, and each person's notifications,
/// answering while every other service is down. The seed's `GET /dashboard/list` and
/// `GET /dashboard/list/{vaccineType}` answer arrays (paged with `?page=&size=` when
/// asked); `GET /dashboards/search/findByUserId?userId=1` one booking, HAL.
public let dashboardService = ServiceDefinition(name: "dashboard", policies: dashboardPolicies) { router, runtime in
    Resource<Dashboard>(store: runtime.store).searchable(by: "userId", "vaccineType", "reserveStatus").register(on: router)
    router.get("dashboard/list") { request, _ in try await list(request, runtime.store) }
    router.get("dashboard/list/:vaccineType") { request, context in
        try await list(request, runtime.store, [FieldMatch("vaccineType", context.parameters.get("vaccineType") ?? "")])
    }
    registerNotifications(on: router, runtime)
}

/// Every row, in userId order (a row's id is its userId), as the seed's `findAll` answered;
/// a page of them when `size` is given.
private func list(_ request: Request, _ store: any Store, _ filters: [FieldMatch] = []) async throws -> Response {
    let paging = try Paging(request)
    let query = request.uri.queryParameters["size"] == nil ? DocumentQuery(filters: filters, limit: .max) : paging.query(filters: filters)
    return try JSONResponse.make(.ok, encoding: try await store.all(Dashboard.self, query))
}

/// Each change of a booking's status (or of its vaccine) is told to the person once: a
/// repeated or overtaken event changes nothing and tells nothing.
let dashboardPolicies = Policies()
    .on(ReservationRequested.self) { e, tx in
        try await upsert(e.userId, tx, telling: "your vaccination on \(e.reserveDate) is booked (booking \(e.userId))") {
            $0.person(e.userName, e.userRegNumber, e.reserveDate); $0.advance(to: "RESERVE")
        }
    }
    .on(HospitalReservationReceived.self) { e, tx in
        try await upsert(e.userId, tx, telling: "\(e.hospitalName) expects you on \(e.reserveDate) for your \(e.vaccineType) vaccination") {
            $0.person(e.userName, e.userRegNumber, e.reserveDate); $0.vaccineType = e.vaccineType; $0.hospitalName = e.hospitalName; $0.advance(to: "RESERVE")
        }
    }
    .on(ReservationRejected.self) { e, tx in
        try await upsert(e.userId, tx, telling: "your booking for \(e.reserveDate) was rejected: \(e.reason)") {
            $0.person(e.userName, e.userRegNumber, e.reserveDate); $0.rejectReason = e.reason; $0.advance(to: "REJECTED")
        }
    }
    .on(ReservationCancelled.self) { e, tx in
        try await upsert(e.userId, tx, telling: "your booking for \(e.reserveDate) is cancelled") { $0.cancelDate = e.cancelDate; $0.advance(to: "CANCEL") }
    }
    .on(VaccineInjected.self) { e, tx in
        try await upsert(e.userId, tx, telling: "you were vaccinated with \(e.vaccineType) at \(e.hospitalName)") {
            $0.injectDate = e.injectDate; $0.vaccineType = e.vaccineType; $0.hospitalName = e.hospitalName; $0.advance(to: "INJECT")
        }
    }

private func upsert(_ userId: Int64, _ tx: any StoreTransaction, telling message: String, _ change: (inout Dashboard) -> Void) async throws {
    let before = try await tx.get(Dashboard.self, id: userId)
    var row = before ?? Dashboard(userId: userId)
    change(&row)
    guard row != before else { return }
    try await tx.save(row)
    if row.reserveStatus != before?.reserveStatus || row.vaccineType != before?.vaccineType {
        try await tx.save(Notification(userId: userId, message: message, createdAt: Clock.millis()))
    }
}
