import Chassis
import VaccineContracts

/// A message to the person about their booking (the seed's KakaoTalk message), one for
/// every change of its status (`Dashboard`'s policies write them).
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
