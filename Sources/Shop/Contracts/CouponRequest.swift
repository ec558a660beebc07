import Chassis

/// The body productdelivery sends to `POST /promotes` to have marketing issue an order's
/// coupon before delivery starts (the seed's Req/Resp rule: no delivery without a coupon).
/// `requestId` names the attempt, so an attempt productdelivery undid can be followed by
/// another (``CallTarget``).
public struct CouponRequest: Codable, Sendable, Equatable {
    public var orderId: Int64
    public var userId: String?
    public var username: String
    public var phoneNo: String
    public var productId: String
    public var orderStatus: String
    public var payStatus: String
    public var requestId: String

    public init(orderId: Int64, userId: String?, username: String, phoneNo: String, productId: String, orderStatus: String = "OrderAccepted",
                payStatus: String = "Paid", requestId: String) {
        self.orderId = orderId; self.userId = userId; self.username = username; self.phoneNo = phoneNo; self.productId = productId
        self.orderStatus = orderStatus; self.payStatus = payStatus; self.requestId = requestId
    }
}

/// What marketing answers `POST /promotes` with, as productdelivery reads it: the coupon,
/// or — for an order already cancelled — `status: "Canceled"` and no coupon.
public struct IssuedCoupon: Decodable, Sendable, Equatable {
    public var orderId: Int64
    public var couponId: String?
    public var couponKind: String?
    public var couponUseYn: String?
    public var status: String

    public init(orderId: Int64, couponId: String?, couponKind: String?, couponUseYn: String?, status: String) {
        self.orderId = orderId; self.couponId = couponId; self.couponKind = couponKind; self.couponUseYn = couponUseYn; self.status = status
    }
}
