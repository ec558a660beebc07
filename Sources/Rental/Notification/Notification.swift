import Chassis
import RentalContracts

/// A message to a customer about one of their requests (the seed's "alarm").
struct Notification: Entity, Equatable {
    static let collection = "notifications"
    var id: Int64?
    var customer: String
    var matchId: Int64
    var message: String
    var createdAt: Int64
}

/// notification (8086): tells customers about every status change of their requests. A
/// voided payment (`PaymentVoided`) is no news to anyone: its request never existed.
/// `GET /notifications?customer=andy` lists them; `GET /notifications/stream?customer=andy`
/// streams new ones live as Server-Sent Events.
public let notificationService = ServiceDefinition(name: "notification", policies: notificationPolicies) { router, runtime in
    Resource<Notification>(store: runtime.store).searchable(by: "customer", "matchId").filterable(by: "customer", "matchId").register(on: router)
    router.get("notifications/stream") { request, _ in
        let customer = request.uri.queryParameters["customer"].map(String.init)
        return EventStream.polling(store: runtime.store, logger: runtime.logger) { after in
            var filters = [FieldMatch]()
            if let customer { filters.append(FieldMatch("customer", customer)) }
            return try await runtime.store.all(Notification.self, DocumentQuery(filters: filters, limit: 100, afterId: after))
                .map { ($0.id!, try JSON.encodeString($0)) }
        }
    }
}

let notificationPolicies = Policies()
    .on(ReserveRequested.self) { e, tx in
        let promo = e.promotional ? " at a promotional price" : ""
        try await notify(e.customer, e.matchId, "your request #\(e.matchId)\(item(e.name)) was paid (\(e.price) won\(promo)) and sent to lenders", tx)
    }
    .on(LendConfirmed.self) { e, tx in
        try await notify(e.customer, e.matchId, "your request #\(e.matchId)\(item(e.name)) was matched by \(e.lender ?? "a lender")", tx)
    }
    .on(ReserveCancelled.self) { e, tx in try await notify(e.customer, e.matchId, "your request #\(e.matchId) was cancelled", tx) }
    .on(PaymentCancelled.self) { e, tx in try await notify(e.customer, e.matchId, "request #\(e.matchId) was refunded: \(e.price) won", tx) }
    .on(LendCancelled.self) { e, tx in try await notify(e.customer, e.matchId, "the match of request #\(e.matchId) was cancelled", tx) }

private func item(_ name: String?) -> String { name.map { " for \($0)" } ?? "" }

private func notify(_ customer: String, _ matchId: Int64, _ message: String, _ tx: any StoreTransaction) async throws {
    try await tx.save(Notification(customer: customer, matchId: matchId, message: message, createdAt: Clock.millis()))
}
