import Chassis
import ShopContracts

/// The coupon of one order (the seed's `Promote`; id: the order's): issued at
/// productdelivery's request before delivery sets off, cancelled when the order is.
struct Promote: Entity, Equatable {
    static let collection = "promotes"
    var id: Int64?
    var orderId: Int64
    var userId: String?
    var username: String
    var phoneNo: String?
    var productId: String
    var orderStatus: String
    var payStatus: String
    var couponId: String?
    var couponKind: String?
    /// `Y` while the coupon can be used, `N` once cancelled.
    var couponUseYn: String
    var status: Status
    /// Productdelivery's attempt that issued it (``CouponRequest/requestId``); nil once
    /// the coupon is cancelled, which no undo takes back.
    var requestId: String?

    enum Status: String, EntityStatus {
        case published = "Published", canceled = "Canceled"
        static let aliases: [String: Status] = ["Cancelled": .canceled]
    }

    static func issue(_ request: CouponRequest, kind: String) throws -> (Promote, [any DomainEvent]) {
        guard !request.requestId.isEmpty else { throw Refusal.invalid("requestId must not be empty", field: "requestId") }
        let couponId = "CPN-\(request.orderId)-\(RandomID.uuid().prefix(8).uppercased())"
        let promote = Promote(id: request.orderId, orderId: request.orderId, userId: request.userId, username: request.username, phoneNo: request.phoneNo,
                              productId: request.productId, orderStatus: request.orderStatus, payStatus: request.payStatus, couponId: couponId,
                              couponKind: kind, couponUseYn: "Y", status: .published, requestId: request.requestId)
        return (promote, [CouponPublished(id: request.orderId, orderId: request.orderId, userId: request.userId, username: request.username,
                                          phoneNo: request.phoneNo, productId: request.productId, orderStatus: request.orderStatus,
                                          payStatus: request.payStatus, couponId: couponId, couponKind: kind, couponUseYn: "Y")])
    }

    /// The order was cancelled, or cannot be delivered: the coupon is cancelled with it.
    mutating func cancel(_ reason: String, orderStatus: String? = nil, payStatus: String? = nil) -> [any DomainEvent] {
        guard status == .published else { return [] }
        status = .canceled
        couponUseYn = "N"
        requestId = nil
        if let orderStatus { self.orderStatus = orderStatus }
        if let payStatus { self.payStatus = payStatus }
        return [CouponCanceled(id: id!, orderId: orderId, couponId: couponId, reason: reason)]
    }

    /// An order cancelled before any coupon was issued for it: recorded as cancelled, so a
    /// coupon request still on its way gets no coupon.
    static func neverIssued(_ e: OrderCanceled) -> (Promote, [any DomainEvent]) {
        (Promote(id: e.id, orderId: e.id, userId: e.userId, username: e.username, phoneNo: nil, productId: e.productId, orderStatus: e.orderStatus,
                 payStatus: e.payStatus, couponId: nil, couponKind: nil, couponUseYn: "N", status: .canceled, requestId: nil),
         [CouponCanceled(id: e.id, orderId: e.id, couponId: nil, reason: "order \(e.id) was cancelled before a coupon was issued")])
    }
}

/// One coupon per order: a retry of the attempt that issued it gets it back, and so does
/// any request for an order already cancelled (its `Canceled` record, no coupon: delivery
/// does not set off). Productdelivery's undo withdraws the attempt's coupon
/// (`CouponVoided`) and refuses the attempt from then on; another attempt may issue one.
func promotes(kind: String) -> CallTarget<Promote, CouponRequest> {
    CallTarget<Promote, CouponRequest>(
        named: { "the coupon of order \($0)" }, key: { $0.orderId }, attempt: { $0.requestId }, madeBy: { $0.requestId },
        make: { request in try Promote.issue(request, kind: kind) },
        refusing: { promote, request in
            promote.status == .canceled || promote.requestId == request.requestId
                ? nil : "order \(promote.orderId) already has coupon \(promote.couponId ?? "")"
        },
        undo: .withdraw(raising: { promote in [CouponVoided(id: promote.id!, orderId: promote.orderId, couponId: promote.couponId ?? "")] }))
}

/// marketing (8083): issues each order's coupon (`CouponPublished`) when productdelivery
/// asks (`POST /promotes`, an internal route: a coupon posted by anyone else would be
/// free), of the kind `COUPON_KIND` names (`10% off the next order`), and cancels it when
/// the order is cancelled or cannot be delivered (`CouponCanceled`, which cancels the
/// delivery). `GET /promotes` lists them. The seed's supporting domain (60% uptime): while
/// it is down, orders are taken and deliveries wait for its coupons.
public let marketingService = ServiceDefinition(name: "marketing", policies: marketingPolicies,
                                                internalRoutes: [.post("/promotes"), .post("/promotes/:id/void")]) { router, runtime in
    let coupons = promotes(kind: runtime.setting("COUPON_KIND", default: "10% off the next order"))
    Resource<Promote>(store: runtime.store)
        .creating(CouponRequest.self) { request, store in try await coupons.accept(request, in: store) }
        .searchable(by: "orderId", "userId")
        .register(on: router)
    coupons.registerVoid(on: router, store: runtime.store, keyField: "orderId", attemptField: "requestId")
}

let marketingPolicies = Policies()
    .on(OrderCanceled.self) { e, tx in
        guard var promote = try await tx.get(Promote.self, id: e.id) else {
            let (promote, events) = Promote.neverIssued(e)
            try await tx.save(promote)
            try await tx.publish(events)
            return
        }
        let events = promote.cancel("order \(e.id) was cancelled", orderStatus: e.orderStatus, payStatus: e.payStatus)
        try await tx.save(promote)
        try await tx.publish(events)
    }
    .on(DeliveryRejected.self) { e, tx in
        try await tx.updateIfPresent(Promote.self, id: e.orderId) { $0.cancel("order \(e.orderId) cannot be delivered: \(e.reason)") }
    }
