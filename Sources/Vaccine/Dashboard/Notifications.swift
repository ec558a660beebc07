import Chassis
import VaccineContracts

/// A message to the person about their booking (the seed's KakaoTalk message), one for
/// every change of its status.
struct Notification: Entity, Equatable {
    static let collection = "notifications"
    var id: Int64?
    var userId: Int64
    var message: String
    var createdAt: Int64
}

/// `GET /notifications?userId=1` lists a person's messages; `GET
/// /notifications/stream?userId=1` streams new ones live as Server-Sent Events.
func registerNotifications(on router: Router<BasicRequestContext>, _ runtime: ServiceRuntime) {
    Resource<Notification>(store: runtime.store).searchable(by: "userId").filterable(by: "userId").register(on: router)
    router.get("notifications/stream") { request, _ in
        let userId = request.uri.queryParameters["userId"].map(String.init)
        return EventStream.polling(store: runtime.store, logger: runtime.logger) { after in
            let filters = userId.map { [FieldMatch("userId", $0)] } ?? []
            return try await runtime.store.all(Notification.self, DocumentQuery(filters: filters, limit: 100, afterId: after))
                .map { ($0.id!, try JSON.encodeString($0)) }
        }
    }
}

let notificationPolicies = Policies()
    .on(ReservationRequested.self) { e, tx in try await notify(e.userId, "your vaccination on \(e.reserveDate) is booked (booking \(e.userId))", tx) }
    .on(HospitalReservationReceived.self) { e, tx in
        try await notify(e.userId, "\(e.hospitalName) expects you on \(e.reserveDate) for your \(e.vaccineType) vaccination", tx)
    }
    .on(ReservationRejected.self) { e, tx in try await notify(e.userId, "your booking for \(e.reserveDate) was rejected: \(e.reason)", tx) }
    .on(ReservationCancelled.self) { e, tx in try await notify(e.userId, "your booking for \(e.reserveDate) is cancelled", tx) }
    .on(VaccineInjected.self) { e, tx in try await notify(e.userId, "you were vaccinated with \(e.vaccineType) at \(e.hospitalName)", tx) }

private func notify(_ userId: Int64, _ message: String, _ tx: any StoreTransaction) async throws {
    try await tx.save(Notification(userId: userId, message: message, createdAt: Clock.millis()))
}
