import Chassis

// The Rental system's published language: every event its services exchange, with the
// seed's names and fields. The correlation key is always the match id (the reserve's id),
// so every event about one rental lands in one partition, in order.

/// A customer's paid rental request exists (published by reserve after payment approved).
public struct ReserveRequested: DomainEvent, Equatable {
    public var matchId: Int64
    public var name: String?
    public var price: Int
    public var listPrice: Int
    public var startDay: String
    public var endDay: String
    public var customer: String
    public var promotional: Bool
    public var correlationKey: String { String(matchId) }

    public init(matchId: Int64, name: String?, price: Int, listPrice: Int, startDay: String, endDay: String, customer: String, promotional: Bool) {
        self.matchId = matchId; self.name = name; self.price = price; self.listPrice = listPrice
        self.startDay = startDay; self.endDay = endDay; self.customer = customer; self.promotional = promotional
    }
}

/// The customer cancelled the request (compensation starts here).
public struct ReserveCancelled: DomainEvent, Equatable {
    public var matchId: Int64
    public var customer: String
    public var correlationKey: String { String(matchId) }
    public init(matchId: Int64, customer: String) { self.matchId = matchId; self.customer = customer }
}

/// Payment took the customer's money for a match.
public struct PaymentApproved: DomainEvent, Equatable {
    public var matchId: Int64
    public var price: Int
    public var customer: String
    public var startDay: String
    public var endDay: String
    public var name: String?
    public var correlationKey: String { String(matchId) }

    public init(matchId: Int64, price: Int, customer: String, startDay: String, endDay: String, name: String?) {
        self.matchId = matchId; self.price = price; self.customer = customer
        self.startDay = startDay; self.endDay = endDay; self.name = name
    }
}

/// Payment gave the money back after the customer cancelled the request.
public struct PaymentCancelled: DomainEvent, Equatable {
    public var matchId: Int64
    public var price: Int
    public var customer: String
    public var correlationKey: String { String(matchId) }
    public init(matchId: Int64, price: Int, customer: String) {
        self.matchId = matchId; self.price = price; self.customer = customer
    }
}

/// Payment voided a payment whose request never existed: reserve could not commit the
/// request after payment approved it (reserve timed out or crashed), and undid the call.
/// Whatever the approval put in front of lenders or customers goes away again.
public struct PaymentVoided: DomainEvent, Equatable {
    public var matchId: Int64
    public var price: Int
    public var customer: String
    public var correlationKey: String { String(matchId) }
    public init(matchId: Int64, price: Int, customer: String) {
        self.matchId = matchId; self.price = price; self.customer = customer
    }
}

/// A lender confirmed a paid request: the match.
public struct LendConfirmed: DomainEvent, Equatable {
    public var matchId: Int64
    public var lender: String?
    public var customer: String
    public var name: String?
    public var correlationKey: String { String(matchId) }
    public init(matchId: Int64, lender: String?, customer: String, name: String?) {
        self.matchId = matchId; self.lender = lender; self.customer = customer; self.name = name
    }
}

/// A confirmed match was cancelled because its request was cancelled.
public struct LendCancelled: DomainEvent, Equatable {
    public var matchId: Int64
    public var lender: String?
    public var customer: String
    public var correlationKey: String { String(matchId) }
    public init(matchId: Int64, lender: String?, customer: String) { self.matchId = matchId; self.lender = lender; self.customer = customer }
}

/// A discount campaign was registered for a window of rental days.
public struct PromotionRegistered: DomainEvent, Equatable {
    public var promotionId: Int64
    public var name: String
    public var discountRate: Int
    public var startDay: String
    public var endDay: String
    public var correlationKey: String { "promotion-\(promotionId)" }
    public init(promotionId: Int64, name: String, discountRate: Int, startDay: String, endDay: String) {
        self.promotionId = promotionId; self.name = name; self.discountRate = discountRate
        self.startDay = startDay; self.endDay = endDay
    }
}

/// A campaign ended (deleted or closed early).
public struct PromotionEnded: DomainEvent, Equatable {
    public var promotionId: Int64
    public var correlationKey: String { "promotion-\(promotionId)" }
    public init(promotionId: Int64) { self.promotionId = promotionId }
}
