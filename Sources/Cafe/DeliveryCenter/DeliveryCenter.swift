import Chassis
import CafeContracts

/// One order as the delivery center watches it (the seed's `DeliveryPage`, id: the
/// order's), built only from events. Its status only moves forward, `Ordered` →
/// `Delivery Started` → `Delivery Cancelled`, so an event that overtook another changes
/// nothing back.
struct DeliveryPage: Entity, Equatable {
    static let collection = "deliverypages"
    var id: Int64?
    var orderId: Int64
    var deliveryId: Int64?
    var amt: Int?
    var status: String?

    init(orderId: Int64) {
        id = orderId
        self.orderId = orderId
    }

    /// `deliveryId` is written as `null` until a delivery set off, as the seed's page shows it.
    func encode(to encoder: any Encoder) throws {
        var body = encoder.container(keyedBy: CodingKeys.self)
        try body.encodeIfPresent(id, forKey: .id)
        try body.encode(orderId, forKey: .orderId)
        try body.encode(deliveryId, forKey: .deliveryId)
        try body.encodeIfPresent(amt, forKey: .amt)
        try body.encodeIfPresent(status, forKey: .status)
    }

    static let progress = Precedence("Ordered", "Delivery Started", "Delivery Cancelled")

    mutating func advance(to next: String) { Self.progress.advance(&status, to: next) }
}

/// deliverycenter (8085): the delivery center's page, `GET /deliverypages` (HAL, with the
/// seed's `search` link: `…/search/findByOrderId?orderId=8`), answering while every other
/// service is down.
public let deliveryCenterService = ServiceDefinition(name: "deliverycenter", policies: deliveryCenterPolicies) { router, runtime in
    Resource<DeliveryPage>(store: runtime.store).searchable(by: "orderId", "status").register(on: router)
}

let deliveryCenterPolicies = Policies()
    .on(OrderPlaced.self) { e, tx in try await upsert(e.id, tx) { $0.amt = e.amt; $0.advance(to: "Ordered") } }
    .on(DeliveryStarted.self) { e, tx in try await upsert(e.orderId, tx) { $0.deliveryId = e.id; $0.advance(to: "Delivery Started") } }
    .on(DeliveryCancelled.self) { e, tx in
        try await upsert(e.orderId, tx) { page in
            if let delivery = e.deliveryId { page.deliveryId = delivery }
            page.advance(to: "Delivery Cancelled")
        }
    }
    .on(OrderCancelled.self) { e, tx in try await upsert(e.id, tx) { $0.amt = $0.amt ?? e.amt } }

private func upsert(_ orderId: Int64, _ tx: any StoreTransaction, _ change: (inout DeliveryPage) -> Void) async throws {
    var page = try await tx.get(DeliveryPage.self, id: orderId) ?? DeliveryPage(orderId: orderId)
    change(&page)
    try await tx.save(page)
}
