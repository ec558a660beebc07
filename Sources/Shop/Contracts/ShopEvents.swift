import Chassis

// The Shop ("12st") system's published language. Everything about one order is keyed by
// its id: its acceptance, coupon, delivery and status follow from it, so every event about
// an order lands in one partition, in publish order, whichever service publishes it.

/// A customer ordered and paid (order, on `POST /orders`): the seed's `Order` copied
/// whole, as its `BeanUtils.copyProperties` did.
public struct OrderPlaced: DomainEvent, Equatable {
    public var id: Int64
    public var username: String
    public var address: String
    public var phoneNo: String
    public var productId: String
    public var productName: String
    public var productPrice: Int64
    public var qty: Int
    public var payStatus: String
    public var userId: String
    public var orderStatus: String
    public var orderDate: String
    public var correlationKey: String { String(id) }
    public init(id: Int64, username: String, address: String, phoneNo: String, productId: String, productName: String, productPrice: Int64,
                qty: Int, payStatus: String = "Paid", userId: String, orderStatus: String = "orderPlaced", orderDate: String) {
        self.id = id; self.username = username; self.address = address; self.phoneNo = phoneNo; self.productId = productId
        self.productName = productName; self.productPrice = productPrice; self.qty = qty; self.payStatus = payStatus; self.userId = userId
        self.orderStatus = orderStatus; self.orderDate = orderDate
    }
}

/// The delivery team took the order in (productdelivery's `OrderMgmt`, the seed's 주문접수).
public struct OrderAccepted: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var itemId: String
    public var itemName: String
    public var qty: Int
    public var customerName: String
    public var deliveryAddress: String
    public var deliveryPhoneNumber: String
    public var userId: String?
    public var orderStatus: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, itemId: String, itemName: String, qty: Int, customerName: String, deliveryAddress: String,
                deliveryPhoneNumber: String, userId: String?, orderStatus: String = "OrderAccepted") {
        self.id = id; self.orderId = orderId; self.itemId = itemId; self.itemName = itemName; self.qty = qty; self.customerName = customerName
        self.deliveryAddress = deliveryAddress; self.deliveryPhoneNumber = deliveryPhoneNumber; self.userId = userId; self.orderStatus = orderStatus
    }
}

/// **(decision)** The order cannot be delivered: its product is out of stock, or not
/// stocked at all. Order refunds it; marketing takes back a coupon issued for it.
public struct DeliveryRejected: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var reason: String
    public var orderStatus: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, reason: String, orderStatus: String = "DeliveryRejected") {
        self.id = id; self.orderId = orderId; self.reason = reason; self.orderStatus = orderStatus
    }
}

/// Marketing issued the order's coupon (`POST /promotes`, productdelivery's synchronous
/// call): the seed's `Promote`, copied whole.
public struct CouponPublished: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var userId: String?
    public var username: String
    public var phoneNo: String
    public var productId: String
    public var orderStatus: String
    public var payStatus: String
    public var couponId: String
    public var couponKind: String
    public var couponUseYn: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, userId: String?, username: String, phoneNo: String, productId: String, orderStatus: String,
                payStatus: String, couponId: String, couponKind: String, couponUseYn: String) {
        self.id = id; self.orderId = orderId; self.userId = userId; self.username = username; self.phoneNo = phoneNo; self.productId = productId
        self.orderStatus = orderStatus; self.payStatus = payStatus; self.couponId = couponId; self.couponKind = couponKind; self.couponUseYn = couponUseYn
    }
}

/// **(decision)** Marketing took back a coupon whose issue productdelivery could not learn
/// the outcome of (it timed out) and so undid: nobody was given it.
public struct CouponVoided: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var couponId: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, couponId: String) { self.id = id; self.orderId = orderId; self.couponId = couponId }
}

/// Delivery set off: the coupon was issued and the stock taken. Carries the coupon.
public struct DeliveryStarted: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var itemId: String
    public var qty: Int
    public var couponId: String
    public var couponKind: String
    public var couponUseYn: String
    public var orderStatus: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, itemId: String, qty: Int, couponId: String, couponKind: String, couponUseYn: String,
                orderStatus: String = "DeliveryStarted") {
        self.id = id; self.orderId = orderId; self.itemId = itemId; self.qty = qty; self.couponId = couponId; self.couponKind = couponKind
        self.couponUseYn = couponUseYn; self.orderStatus = orderStatus
    }
}

/// The customer cancelled (`PATCH /orders/{id} {"orderStatus": "orderCanceled"}`), and the
/// payment with it: the seed's `Order` copied whole.
public struct OrderCanceled: DomainEvent, Equatable {
    public var id: Int64
    public var username: String
    public var userId: String
    public var productId: String
    public var qty: Int
    public var payStatus: String
    public var orderStatus: String
    public var correlationKey: String { String(id) }
    public init(id: Int64, username: String, userId: String, productId: String, qty: Int, payStatus: String = "Cancelled",
                orderStatus: String = "orderCanceled") {
        self.id = id; self.username = username; self.userId = userId; self.productId = productId; self.qty = qty
        self.payStatus = payStatus; self.orderStatus = orderStatus
    }
}

/// Marketing cancelled the order's coupon: the order was cancelled, or could not be
/// delivered. `couponId` is nil when none had been issued; productdelivery cancels the
/// delivery on it either way (the seed: "when the coupon is cancelled, the delivery team
/// cancels the delivery").
public struct CouponCanceled: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var couponId: String?
    public var reason: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, couponId: String?, reason: String) {
        self.id = id; self.orderId = orderId; self.couponId = couponId; self.reason = reason
    }
}

/// Productdelivery cancelled the delivery; `stockRestored`: the stock it had taken went
/// back (false when delivery had not set off).
public struct DeliveryCanceled: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var itemId: String
    public var qty: Int
    public var stockRestored: Bool
    public var orderStatus: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, itemId: String, qty: Int, stockRestored: Bool, orderStatus: String = "DeliveryCanceled") {
        self.id = id; self.orderId = orderId; self.itemId = itemId; self.qty = qty; self.stockRestored = stockRestored; self.orderStatus = orderStatus
    }
}
