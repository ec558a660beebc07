import Chassis
import CafeContracts

/// A drink to make for one paid order (id: the order's), as the seed's HAL body shows it.
struct Drink: Entity, Equatable {
    static let collection = "drinks"
    var id: Int64?
    var orderId: Int64
    var phoneNumber: String
    var productName: String
    var qty: Int
    var status: Status
    var createTime: String

    enum Status: String, EntityStatus {
        case ordered = "Ordered", made = "Made", cancelled = "Cancelled"
    }

    static func toMake(_ paid: PaymentApproved) -> Drink {
        Drink(id: paid.orderId, orderId: paid.orderId, phoneNumber: paid.phoneNumber, productName: paid.productName, qty: paid.qty,
              status: .ordered, createTime: Clock.jacksonTimestamp())
    }

    /// The barista's PATCH: only the status may change, and only from `Ordered` to `Made`.
    func change(to proposed: Drink) throws -> [any DomainEvent] {
        var unchanged = proposed
        unchanged.status = status
        if let field = try unchanged.fields(differingFrom: self).first {
            throw Refusal.conflict("\(field) of a drink cannot change: only its status, from Ordered to Made", field: field)
        }
        switch (status, proposed.status) {
        case (.ordered, .made):
            return [DrinkMade(id: id!, orderId: orderId, phoneNumber: phoneNumber, productName: productName, qty: qty)]
        case (let from, let to) where from == to:
            throw Refusal.conflict("drink \(id!) is already \(from.rawValue)", field: "status")
        default:
            throw Refusal.conflict("drink \(id!) is \(status.rawValue) and cannot become \(proposed.status.rawValue)", field: "status")
        }
    }

    /// The order was cancelled: a drink not yet made is stopped; a made one stays made
    /// (its delivery is cancelled instead).
    mutating func stop() -> [any DomainEvent] {
        guard status == .ordered else { return [] }
        status = .cancelled
        return [DrinkCancelled(id: id!, orderId: orderId)]
    }
}

/// drink's copy of an order (the seed's `OrderInfo`, id: the order's).
struct OrderInfo: Entity, Equatable {
    static let collection = "orderinfos"
    var id: Int64?
    var orderId: Int64
    var phoneNumber: String
    var productName: String
    var qty: Int
    var amt: Int
    var status: String
}

/// An order cancelled before its payment reached drink: a late `PaymentApproved` makes nothing.
struct CancelledOrder: Entity {
    static let collection = "cancelledOrders"
    var id: Int64?
}

/// drink (8083): the barista's queue. A drink is made only for a paid order
/// (`PaymentApproved`); `PATCH /drinks/{id} {"status":"Made"}` makes it (`DrinkMade`), only
/// from `Ordered` (else 409). A cancelled order's unmade drink is stopped (`DrinkCancelled`).
public let drinkService = ServiceDefinition(name: "drink", policies: drinkPolicies) { router, runtime in
    Resource<Drink>(store: runtime.store)
        .updating { stored, proposed, _ in try stored.change(to: proposed) }
        .searchable(by: "orderId", "status")
        .register(on: router)
    Resource<OrderInfo>(store: runtime.store).searchable(by: "orderId").register(on: router)
}

let drinkPolicies = Policies()
    .on(OrderPlaced.self) { order, tx in
        guard try await tx.get(OrderInfo.self, id: order.id) == nil else { return }
        try await tx.save(OrderInfo(id: order.id, orderId: order.id, phoneNumber: order.phoneNumber, productName: order.productName,
                                    qty: order.qty, amt: order.amt, status: order.status))
    }
    .on(PaymentApproved.self) { paid, tx in
        guard try await tx.get(Drink.self, id: paid.orderId) == nil, try await tx.get(CancelledOrder.self, id: paid.orderId) == nil else { return }
        try await tx.save(Drink.toMake(paid))
    }
    .on(OrderCancelled.self) { order, tx in
        try await tx.save(CancelledOrder(id: order.id))
        try await tx.updateIfPresent(OrderInfo.self, id: order.id) { info in
            info.status = "Cancelled"
            return []
        }
        try await tx.updateIfPresent(Drink.self, id: order.id) { $0.stop() }
    }
