import Chassis
import ShopContracts

/// A customer's order, paid as it is placed (the seed: "주문과 결제는 동시에", order and
/// payment together), as the seed's `Order` entity holds it.
struct Order: Entity, Equatable {
    static let collection = "orders"
    var id: Int64?
    var username: String
    var address: String
    var phoneNo: String
    var productId: String
    var productName: String
    var productPrice: Int64
    var qty: Int
    var payStatus: PayStatus
    var userId: String
    var orderStatus: Status
    var orderDate: String
    /// **(decision)** Why the order was refunded without the customer asking (out of stock).
    var rejectReason: String?

    enum Status: String, EntityStatus {
        case placed = "orderPlaced", canceled = "orderCanceled", rejected = "deliveryRejected"
        static let aliases: [String: Status] = ["OrderPlaced": .placed, "OrderCanceled": .canceled, "orderCancelled": .canceled,
                                                "OrderCancelled": .canceled, "DeliveryRejected": .rejected]
    }

    enum PayStatus: String, EntityStatus {
        case paid = "Paid", cancelled = "Cancelled", refunded = "Refunded"
        static let aliases: [String: PayStatus] = ["Canceled": .cancelled]
    }

    init(_ input: OrderInput) {
        username = input.username
        address = input.address
        phoneNo = input.phoneNo
        productId = input.productId
        productName = input.productName
        productPrice = input.productPrice
        qty = input.qty
        payStatus = .paid
        userId = input.userId
        orderStatus = .placed
        orderDate = Clock.jacksonTimestamp()
    }

    var placed: OrderPlaced {
        OrderPlaced(id: id!, username: username, address: address, phoneNo: phoneNo, productId: productId, productName: productName,
                    productPrice: productPrice, qty: qty, payStatus: payStatus.rawValue, userId: userId, orderStatus: orderStatus.rawValue,
                    orderDate: orderDate)
    }

    /// The customer's PATCH. **(decision)** Only `orderStatus` may change, and only to
    /// `orderCanceled` (payment cancelled with it, `OrderCanceled`): the delivery took the
    /// order as it was placed. A PATCH that changes nothing publishes nothing.
    func change(to proposed: inout Order) throws -> [any DomainEvent] {
        var unchanged = proposed
        unchanged.orderStatus = orderStatus
        if let field = try unchanged.fields(differingFrom: self).first {
            throw Refusal.conflict("\(field) of an order cannot change: only its orderStatus, to orderCanceled", field: field)
        }
        switch (orderStatus, proposed.orderStatus) {
        case (let from, let to) where from == to:
            return []
        case (.placed, .canceled):
            proposed.payStatus = .cancelled
            return [OrderCanceled(id: id!, username: username, userId: userId, productId: productId, qty: qty)]
        case (.rejected, .canceled):
            throw Refusal.conflict("order \(id!) could not be delivered and was refunded already: \(rejectReason ?? "")", field: "orderStatus")
        default:
            throw Refusal.conflict("order \(id!) is \(orderStatus.rawValue) and cannot become \(proposed.orderStatus.rawValue)", field: "orderStatus")
        }
    }

    /// Productdelivery cannot deliver it: refunded, unless the customer cancelled first.
    mutating func reject(_ reason: String) -> [any DomainEvent] {
        guard orderStatus == .placed else { return [] }
        orderStatus = .rejected
        payStatus = .refunded
        rejectReason = reason
        return []
    }
}

/// `POST /orders`'s body, validated field by field (a 400 naming the field). httpie sends
/// `productPrice=20000 qty=1` as strings; both are taken. Paying is part of ordering: a
/// `payStatus` other than `Paid` is refused.
struct OrderInput: Decodable, Sendable {
    var username: String
    var address: String
    var phoneNo: String
    var productId: String
    var productName: String
    var productPrice: Int64
    var qty: Int
    var userId: String

    enum CodingKeys: String, CodingKey { case username, address, phoneNo, productId, productName, productPrice, qty, userId, payStatus, orderStatus }

    init(from decoder: any Decoder) throws {
        let body = try decoder.container(keyedBy: CodingKeys.self)
        username = try body.text(.username, length: 1...50)
        address = try body.text(.address, length: 1...200)
        phoneNo = try body.phoneNumber(.phoneNo)
        productId = try body.text(.productId, length: 1...40)
        productName = try body.text(.productName, length: 1...100)
        productPrice = try body.number(.productPrice, in: 0...1_000_000_000, unit: "won")
        qty = try body.number(.qty, in: 1...100)
        userId = try body.text(.userId, length: 1...50)
        if let pay = try body.decodeIfPresent(String.self, forKey: .payStatus), Order.PayStatus(spelling: pay) != .paid {
            throw Refusal.badRequest("an order is paid as it is placed: payStatus must be Paid or left out", field: "payStatus")
        }
        if let status = try body.decodeIfPresent(String.self, forKey: .orderStatus), Order.Status(spelling: status) != .placed {
            throw Refusal.badRequest("a new order is orderPlaced: orderStatus must be orderPlaced or left out", field: "orderStatus")
        }
    }
}

/// order (8081): takes orders, paid as they are placed (`OrderPlaced`), at most
/// `ORDER_MAX_IN_FLIGHT` (3) placements at once — the seed's circuit breaker: "when three
/// orders are being paid, stop taking orders and tell the customer to try shortly"; one
/// more is a 503 + `Retry-After` at once, with nothing written. `PATCH /orders/{id}
/// {"orderStatus": "orderCanceled"}` cancels the order and its payment (`OrderCanceled`),
/// which marketing and productdelivery unwind. An order productdelivery cannot deliver is
/// refunded. Order also keeps the customer's status view (`/orderStatuses`). Orders are
/// taken while productdelivery and marketing are down (the seed's saga rule).
public let orderService = ServiceDefinition(name: "order", policies: orderPolicies.merging(orderStatusPolicies)) { router, runtime in
    Resource<Order>(store: runtime.store)
        .creating(OrderInput.self, Order.init, raising: { order in [order.placed] })
        .admittingCreates(atMost: runtime.setting("ORDER_MAX_IN_FLIGHT", default: 3))
        .updating { stored, proposed, _ in try stored.change(to: &proposed) }
        .searchable(by: "userId", "username")
        .register(on: router)
    Resource<OrderStatus>(store: runtime.store).searchable(by: "orderId", "userId").register(on: router)
}

let orderPolicies = Policies()
    .on(DeliveryRejected.self) { e, tx in try await tx.updateIfPresent(Order.self, id: e.orderId) { $0.reject(e.reason) } }
