import Chassis
import CafeContracts

/// The delivery of one order (id: the order's).
struct Delivery: Entity, Equatable {
    static let collection = "deliveries"
    var id: Int64?
    var orderId: Int64
    var status: Status

    enum Status: String, EntityStatus {
        case started = "Delivery Started", cancelled = "Delivery Cancelled"
    }
}

/// The delivery team's ledger of cancelled orders (the seed's `Cancellation`, id: the
/// order's), recorded synchronously before order deletes the order.
struct Cancellation: Entity, Equatable {
    static let collection = "cancellations"
    var id: Int64?
    var orderId: Int64
    var status: String
    /// order's attempt that recorded it (``CancellationRequest/cancellationId``).
    var cancellationId: String
}

/// An order known cancelled: its drink, should it be made after all, is not delivered.
struct CancelledOrder: Entity {
    static let collection = "cancelledOrders"
    var id: Int64?
}

/// One cancellation per order, recorded for order's `DELETE`: a retry of the same attempt
/// gets it back; order's undo (an attempt whose outcome order could not learn) removes it
/// and refuses the attempt, so the order can be cancelled again by a new one.
let cancellations = CallTarget<Cancellation, CancellationRequest>(
    named: { "the cancellation of order \($0)" }, key: { $0.orderId }, attempt: { $0.cancellationId }, madeBy: { $0.cancellationId },
    make: { request in
        guard request.status == "Delivery Cancelled" else { throw Refusal.invalid("status must be Delivery Cancelled", field: "status") }
        return (Cancellation(id: request.orderId, orderId: request.orderId, status: request.status, cancellationId: request.cancellationId), [])
    },
    refusing: { cancellation, request in
        cancellation.cancellationId == request.cancellationId ? nil : "order \(cancellation.orderId) is already being cancelled"
    },
    undo: .remove)

/// delivery (8084): sets off with every made drink (`DeliveryStarted`), keeps the ledger of
/// cancellations (`POST /cancellations`, order's synchronous call, an internal route), and
/// cancels an order's delivery once the order is cancelled (`DeliveryCancelled`). Down, it
/// catches up on the drinks made meanwhile when it returns.
public let deliveryService = ServiceDefinition(name: "delivery", policies: deliveryPolicies,
                                               internalRoutes: [.post("/cancellations"), .post("/cancellations/:id/void")]) { router, runtime in
    Resource<Delivery>(store: runtime.store).searchable(by: "orderId").register(on: router)
    Resource<Cancellation>(store: runtime.store)
        .creating(CancellationRequest.self) { request, store in try await cancellations.accept(request, in: store) }
        .searchable(by: "orderId")
        .register(on: router)
    cancellations.registerVoid(on: router, store: runtime.store, keyField: "orderId", attemptField: "cancellationId")
}

let deliveryPolicies = Policies()
    .on(DrinkMade.self) { drink, tx in
        guard try await tx.get(Delivery.self, id: drink.orderId) == nil, try await tx.get(CancelledOrder.self, id: drink.orderId) == nil else { return }
        try await tx.save(Delivery(id: drink.orderId, orderId: drink.orderId, status: .started))
        try await tx.publish(DeliveryStarted(id: drink.orderId, orderId: drink.orderId))
    }
    .on(OrderCancelled.self) { order, tx in
        guard try await tx.get(CancelledOrder.self, id: order.id) == nil else { return }
        try await tx.save(CancelledOrder(id: order.id))
        var started: Int64?
        try await tx.updateIfPresent(Delivery.self, id: order.id) { delivery in
            started = delivery.id
            delivery.status = .cancelled
            return []
        }
        try await tx.publish(DeliveryCancelled(orderId: order.id, deliveryId: started))
    }
