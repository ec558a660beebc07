import Chassis
import CafeContracts

/// The payment of one order (id: the order's): paid when the order is placed, refunded
/// when it is cancelled, each once however often the events come.
struct Payment: Entity, Equatable {
    static let collection = "payments"
    var id: Int64?
    var orderId: Int64
    var amt: Int
    var status: Status

    enum Status: String, EntityStatus {
        case paid = "Paid", refunded = "Refunded"
    }

    static func pay(_ order: OrderPlaced) -> (Payment, [any DomainEvent]) {
        (Payment(id: order.id, orderId: order.id, amt: order.amt, status: .paid),
         [PaymentApproved(id: order.id, orderId: order.id, amt: order.amt, phoneNumber: order.phoneNumber, productName: order.productName, qty: order.qty)])
    }

    mutating func refund() -> [any DomainEvent] {
        guard status == .paid else { return [] }
        status = .refunded
        return [PaymentRefunded(id: id!, orderId: orderId, amt: amt)]
    }
}

/// payment (8082): **(decision)** the seed's board named payment but printed none of it;
/// here every order is paid as it is placed (`PaymentApproved`, which the drink waits
/// for) and refunded when cancelled (`PaymentRefunded`). `GET /payments` lists them.
public let paymentService = ServiceDefinition(name: "payment", policies: paymentPolicies) { router, runtime in
    Resource<Payment>(store: runtime.store).searchable(by: "orderId").register(on: router)
}

let paymentPolicies = Policies()
    .on(OrderPlaced.self) { order, tx in
        guard try await tx.get(Payment.self, id: order.id) == nil else { return }
        let (payment, events) = Payment.pay(order)
        try await tx.save(payment)
        try await tx.publish(events)
    }
    .on(OrderCancelled.self) { order, tx in try await tx.updateIfPresent(Payment.self, id: order.id) { $0.refund() } }
