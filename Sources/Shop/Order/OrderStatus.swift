import Chassis
import ShopContracts

/// One order as its customer follows it (the seed's `OrderStatus` view; id: the order's),
/// built only from events, in order's store: it answers while productdelivery and
/// marketing are down. Its status only moves forward, so an event that overtook another
/// changes nothing back.
struct OrderStatus: Entity, Equatable {
    static let collection = "orderStatuses"
    static let itemRelation = "orderStatus"
    var id: Int64?
    var orderId: Int64
    var username: String?
    var userId: String?
    var productId: String?
    var productName: String?
    var productPrice: Int64?
    var qty: Int?
    var orderStatus: String?
    var payStatus: String?
    var couponId: String?
    var couponKind: String?
    var couponUseYn: String?
    /// **(decision)** Why delivery was refused or the coupon cancelled.
    var reason: String?

    init(orderId: Int64) {
        id = orderId
        self.orderId = orderId
    }

    static let progress = Precedence("OrderPlaced", "OrderAccepted", "DeliveryStarted", "DeliveryRejected", "OrderCanceled", "DeliveryCanceled")

    mutating func advance(to next: String) { Self.progress.advance(&orderStatus, to: next) }
}

/// The seed's `OrderStatusViewHandler`: paid (placed) → accepted → delivery started, with
/// the coupon → cancelled (payment) → delivery cancelled; or refused for want of stock.
let orderStatusPolicies = Policies()
    .on(OrderPlaced.self) { e, tx in
        try await upsert(e.id, tx) { view in
            view.username = e.username; view.userId = e.userId; view.productId = e.productId; view.productName = e.productName
            view.productPrice = e.productPrice; view.qty = e.qty
            if view.payStatus == nil { view.payStatus = e.payStatus }
            view.advance(to: "OrderPlaced")
        }
    }
    .on(OrderAccepted.self) { e, tx in try await upsert(e.orderId, tx) { $0.advance(to: "OrderAccepted") } }
    .on(DeliveryStarted.self) { e, tx in
        try await upsert(e.orderId, tx) { view in
            view.couponId = e.couponId; view.couponKind = e.couponKind; view.couponUseYn = e.couponUseYn
            view.advance(to: "DeliveryStarted")
        }
    }
    .on(DeliveryRejected.self) { e, tx in
        try await upsert(e.orderId, tx) { view in
            if view.payStatus != "Cancelled" { view.payStatus = "Refunded" }
            view.reason = e.reason
            view.advance(to: "DeliveryRejected")
        }
    }
    .on(OrderCanceled.self) { e, tx in try await upsert(e.id, tx) { $0.payStatus = e.payStatus; $0.advance(to: "OrderCanceled") } }
    .on(CouponCanceled.self) { e, tx in
        try await upsert(e.orderId, tx) { view in
            if e.couponId != nil, e.couponId == view.couponId { view.couponUseYn = "N" }
        }
    }
    .on(DeliveryCanceled.self) { e, tx in try await upsert(e.orderId, tx) { $0.advance(to: "DeliveryCanceled") } }

private func upsert(_ orderId: Int64, _ tx: any StoreTransaction, _ change: (inout OrderStatus) -> Void) async throws {
    var view = try await tx.get(OrderStatus.self, id: orderId) ?? OrderStatus(orderId: orderId)
    change(&view)
    try await tx.save(view)
}
