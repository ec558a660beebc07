import Chassis

// The Cafe system's published language. Everything about one order is keyed by its id:
// its payment, drink, delivery and page follow from it, so every event about an order
// lands in one partition, in publish order, whichever service publishes it.

/// A customer ordered (order, on `POST /orders`).
public struct OrderPlaced: DomainEvent, Equatable {
    public var id: Int64
    public var phoneNumber: String
    public var productName: String
    public var qty: Int
    public var amt: Int
    public var status: String
    public var createTime: String
    public var correlationKey: String { String(id) }
    public init(id: Int64, phoneNumber: String, productName: String, qty: Int, amt: Int, status: String = "Ordered", createTime: String) {
        self.id = id; self.phoneNumber = phoneNumber; self.productName = productName; self.qty = qty; self.amt = amt
        self.status = status; self.createTime = createTime
    }
}

/// **(decision)** payment took the order's money; only a paid order is made. It carries
/// the order's lines, so the drink can be made from it alone.
public struct PaymentApproved: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var amt: Int
    public var phoneNumber: String
    public var productName: String
    public var qty: Int
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, amt: Int, phoneNumber: String, productName: String, qty: Int) {
        self.id = id; self.orderId = orderId; self.amt = amt; self.phoneNumber = phoneNumber; self.productName = productName; self.qty = qty
    }
}

/// The barista made the drink (`PATCH /drinks/{id} {"status": "Made"}`).
public struct DrinkMade: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var phoneNumber: String
    public var productName: String
    public var qty: Int
    public var status: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, phoneNumber: String, productName: String, qty: Int, status: String = "Made") {
        self.id = id; self.orderId = orderId; self.phoneNumber = phoneNumber; self.productName = productName; self.qty = qty; self.status = status
    }
}

/// delivery set off with the made drink.
public struct DeliveryStarted: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var status: String
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, status: String = "Delivery Started") { self.id = id; self.orderId = orderId; self.status = status }
}

/// The order was cancelled (`DELETE /orders/{id}`, once delivery recorded the cancellation).
public struct OrderCancelled: DomainEvent, Equatable {
    public var id: Int64
    public var amt: Int
    public var correlationKey: String { String(id) }
    public init(id: Int64, amt: Int) { self.id = id; self.amt = amt }
}

/// **(decision)** payment gave the money of a cancelled order back.
public struct PaymentRefunded: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var amt: Int
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64, amt: Int) { self.id = id; self.orderId = orderId; self.amt = amt }
}

/// **(decision)** drink stopped the drink of a cancelled order before it was made.
public struct DrinkCancelled: DomainEvent, Equatable {
    public var id: Int64
    public var orderId: Int64
    public var correlationKey: String { String(orderId) }
    public init(id: Int64, orderId: Int64) { self.id = id; self.orderId = orderId }
}

/// **(decision)** delivery cancelled the order's delivery: `deliveryId` names the one that
/// had set off, nil when the drink never left.
public struct DeliveryCancelled: DomainEvent, Equatable {
    public var orderId: Int64
    public var deliveryId: Int64?
    public var status: String
    public var correlationKey: String { String(orderId) }
    public init(orderId: Int64, deliveryId: Int64?, status: String = "Delivery Cancelled") {
        self.orderId = orderId; self.deliveryId = deliveryId; self.status = status
    }
}
