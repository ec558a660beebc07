import Chassis
import ShopContracts

/// The delivery team's copy of one order (the seed's `OrderMgmt`; id: the order's), from
/// accepted to delivery started — only with a coupon issued and the stock taken — to
/// cancelled, or rejected for want of stock.
struct OrderMgmt: Entity, Equatable {
    static let collection = "ordermgmts"
    var id: Int64?
    var orderId: Int64
    var itemId: String
    var itemName: String
    var qty: Int
    var customerName: String
    var deliveryAddress: String
    var deliveryPhoneNumber: String
    var userId: String?
    var orderStatus: Status
    var couponId: String?
    var couponKind: String?
    var couponUseYn: String?
    /// The order's quantity is out of the stock now (taken when delivery set off, put
    /// back when it is cancelled): each happens at most once.
    var stockTaken: Bool = false
    var reason: String?

    enum Status: String, EntityStatus {
        case accepted = "OrderAccepted", started = "DeliveryStarted", rejected = "DeliveryRejected", canceled = "DeliveryCanceled"
        /// The seed's `POST /ordermgmts … orderStatus="order"`.
        static let aliases: [String: Status] = ["order": .accepted]
    }

    init(placed e: OrderPlaced) {
        self.init(orderId: e.id, itemId: e.productId, itemName: e.productName, qty: e.qty, customerName: e.username, deliveryAddress: e.address,
                  deliveryPhoneNumber: e.phoneNo, userId: e.userId)
    }

    init(orderId: Int64, itemId: String, itemName: String, qty: Int, customerName: String, deliveryAddress: String, deliveryPhoneNumber: String,
         userId: String?) {
        id = orderId
        self.orderId = orderId; self.itemId = itemId; self.itemName = itemName; self.qty = qty; self.customerName = customerName
        self.deliveryAddress = deliveryAddress; self.deliveryPhoneNumber = deliveryPhoneNumber; self.userId = userId
        orderStatus = .accepted
    }

    var accepted: OrderAccepted {
        OrderAccepted(id: id!, orderId: orderId, itemId: itemId, itemName: itemName, qty: qty, customerName: customerName,
                      deliveryAddress: deliveryAddress, deliveryPhoneNumber: deliveryPhoneNumber, userId: userId)
    }

    /// What marketing is asked for, as the seed's `Promote` copies the order.
    var couponRequest: CouponRequest {
        CouponRequest(orderId: orderId, userId: userId, username: customerName, phoneNo: deliveryPhoneNumber, productId: itemId, requestId: RandomID.uuid())
    }

    mutating func reject(_ why: String) -> [any DomainEvent] {
        guard orderStatus == .accepted else { return [] }
        orderStatus = .rejected
        reason = why
        return [DeliveryRejected(id: id!, orderId: orderId, reason: why)]
    }

    /// The coupon is issued and the stock taken: delivery sets off.
    mutating func start(with coupon: IssuedCoupon, couponId: String) -> [any DomainEvent] {
        orderStatus = .started
        stockTaken = true
        self.couponId = couponId; couponKind = coupon.couponKind; couponUseYn = coupon.couponUseYn
        return [DeliveryStarted(id: id!, orderId: orderId, itemId: itemId, qty: qty, couponId: couponId, couponKind: coupon.couponKind ?? "",
                                couponUseYn: coupon.couponUseYn ?? "")]
    }

    /// The coupon was cancelled: so is the delivery. Gives the quantity to put back in
    /// stock (0 when none was taken) with the events, or nothing for a delivery already
    /// cancelled or rejected.
    mutating func cancel() -> (putBack: Int, events: [any DomainEvent]) {
        guard orderStatus == .accepted || orderStatus == .started else { return (0, []) }
        let putBack = stockTaken ? qty : 0
        orderStatus = .canceled
        stockTaken = false
        return (putBack, [DeliveryCanceled(id: id!, orderId: orderId, itemId: itemId, qty: qty, stockRestored: putBack > 0)])
    }

    /// Records an order taken in (by its `OrderPlaced`, or by hand) and checks its stock.
    static func accept(_ order: OrderMgmt, _ initial: InitialStock, _ tx: any StoreTransaction) async throws -> OrderMgmt {
        var order = order
        try await tx.publish(order.accepted)
        if let shortage = Stock.shortage(of: order.qty, order.itemId, try await Stock.current(order.itemId, initial, tx)) {
            try await tx.publish(order.reject(shortage))
        }
        return try await tx.save(order)
    }
}

/// The seed's `POST /ordermgmts orderId=1 itemId=1 itemName="ITbook" qty=1 …
/// orderStatus="order"`: the delivery team taking an order in by hand. **(decision)** An
/// order is taken in once, by hand or by its `OrderPlaced`, whichever comes first: the
/// other gets the same acceptance back. Its coupon is asked for and its delivery set off
/// only once it is paid (its `OrderPlaced`): no stock leaves for an order nobody paid.
struct OrderMgmtInput: Decodable, Sendable {
    var orderId: Int64
    var itemId: String
    var itemName: String
    var qty: Int
    var customerName: String
    var deliveryAddress: String
    var deliveryPhoneNumber: String

    enum CodingKeys: String, CodingKey { case orderId, itemId, itemName, qty, customerName, deliveryAddress, deliveryPhoneNumber, orderStatus }

    init(from decoder: any Decoder) throws {
        let body = try decoder.container(keyedBy: CodingKeys.self)
        orderId = try body.number(.orderId, in: 1...Int64.max)
        itemId = try body.text(.itemId, length: 1...40)
        itemName = try body.text(.itemName, length: 1...100)
        qty = try body.number(.qty, in: 1...100)
        customerName = try body.text(.customerName, length: 1...50)
        deliveryAddress = try body.text(.deliveryAddress, length: 1...200)
        deliveryPhoneNumber = try body.phoneNumber(.deliveryPhoneNumber)
        if let status = try body.decodeIfPresent(String.self, forKey: .orderStatus), OrderMgmt.Status(spelling: status) != .accepted {
            throw Refusal.badRequest("an order is taken in as OrderAccepted (or the seed's \"order\")", field: "orderStatus")
        }
    }
}

/// Marketing issues the order's coupon, synchronously, before delivery sets off (the
/// seed's Req/Resp rule); undone by voiding the attempt.
let issueCoupon = CallPort<CouponRequest>("issue", to: "marketing", defaultURL: "http://127.0.0.1:8083",
                                          call: { coupon in try .post("/promotes", coupon) },
                                          undo: { coupon in try .post("/promotes/\(coupon.orderId)/void", ["requestId": coupon.requestId]) })

/// productdelivery (8082): takes every paid order in (`OrderAccepted`) and checks its
/// stock (`DeliveryRejected` when there is none); has marketing issue the coupon, and only
/// then takes the stock and sets off (`DeliveryStarted`). Marketing down or its breaker
/// open: the order stays accepted and the call is retried until it succeeds, while other
/// orders go on. When the coupon is cancelled (the order was), the delivery is cancelled
/// and the stock put back (`DeliveryCanceled`). `GET /ordermgmts`, `GET /stocks`.
public let productDeliveryService = ServiceDefinition(name: "productdelivery", configuredPolicies: { runtime in
    productDeliveryPolicies(try InitialStock(runtime.setting("STOCK_INITIAL", default: "")))
}, jobs: [.once { runtime in try await InitialStock(runtime.setting("STOCK_INITIAL", default: "")).seed(runtime.store) }]) { router, runtime in
    // A bad STOCK_INITIAL stopped the host already, as it made the policies.
    let initial = (try? InitialStock(runtime.setting("STOCK_INITIAL", default: ""))) ?? .default
    Resource<OrderMgmt>(store: runtime.store)
        .creating(OrderMgmtInput.self) { input, store in
            try await store.write { tx in
                if let taken = try await tx.get(OrderMgmt.self, id: input.orderId) { return taken }
                return try await OrderMgmt.accept(OrderMgmt(orderId: input.orderId, itemId: input.itemId, itemName: input.itemName, qty: input.qty,
                                                            customerName: input.customerName, deliveryAddress: input.deliveryAddress,
                                                            deliveryPhoneNumber: input.deliveryPhoneNumber, userId: nil), initial, tx)
            }
        }
        .searchable(by: "orderId", "orderStatus")
        .register(on: router)
    Resource<Stock>(store: runtime.store).searchable(by: "productId").register(on: router)
}

/// A paid order is taken in as it arrives (recorded while marketing is away), and its
/// `OrderPlaced` queued for the coupon call in the same transaction: two policies for one
/// event, merged.
func productDeliveryPolicies(_ initial: InitialStock) -> Policies {
    Policies()
        .on(OrderPlaced.self) { e, tx in
            guard try await tx.get(OrderMgmt.self, id: e.id) == nil else { return }
            _ = try await OrderMgmt.accept(OrderMgmt(placed: e), initial, tx)
        }
        .merging(deliveryPolicies(initial))
}

/// Coupon before delivery, for a paid order (an acceptance by hand waits for its payment);
/// the delivery cancelled with the coupon.
func deliveryPolicies(_ initial: InitialStock) -> Policies {
    Policies()
        .on(OrderPlaced.self, calling: issueCoupon) { e, tx in
            guard var order = try await tx.get(OrderMgmt.self, id: e.id), order.orderStatus == .accepted else { return nil }
            if let shortage = Stock.shortage(of: order.qty, order.itemId, try await Stock.current(order.itemId, initial, tx)) {
                try await tx.publish(order.reject(shortage))
                try await tx.save(order)
                return nil
            }
            return order.couponRequest
        } then: { e, _, answer, tx in
            let coupon = try answer.decode(IssuedCoupon.self)
            // No coupon: the order was cancelled meanwhile, and its `CouponCanceled` follows.
            guard var order = try await tx.get(OrderMgmt.self, id: e.id), order.orderStatus == .accepted,
                  coupon.status == "Published", let couponId = coupon.couponId else { return }
            let stock = try await Stock.current(order.itemId, initial, tx)
            if let shortage = Stock.shortage(of: order.qty, order.itemId, stock) {
                // Sold out while the coupon was issued: marketing takes it back on `DeliveryRejected`.
                try await tx.publish(order.reject(shortage))
            } else if var stock {
                stock.qty -= order.qty
                try await tx.save(stock)
                try await tx.publish(order.start(with: coupon, couponId: couponId))
            }
            try await tx.save(order)
        }
        .on(CouponCanceled.self) { e, tx in
            guard var order = try await tx.get(OrderMgmt.self, id: e.orderId) else { return }
            let (putBack, events) = order.cancel()
            if putBack > 0, var stock = try await Stock.current(order.itemId, initial, tx) {
                stock.qty += putBack
                try await tx.save(stock)
            }
            try await tx.save(order)
            try await tx.publish(events)
        }
}
