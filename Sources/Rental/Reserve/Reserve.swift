import Chassis
import RentalContracts

/// A customer's rental request: exists only once paid (see `reserveService`).
struct Reserve: Entity, Equatable {
    static let collection = "reserves"
    var id: Int64?
    var name: String?
    var price: Int
    var listPrice: Int
    var startDay: String
    var endDay: String
    var customer: String
    var status: Status
    var promotionId: Int64?
    var promotional: Bool

    /// A request exists only once paid; `Cancel` is the seed's word for cancelling.
    enum Status: String, EntityStatus {
        case paid = "Paid", matched = "Matched", cancelled = "Cancelled"
        static let aliases: [String: Status] = ["Cancel": .cancelled]
    }

    /// The request as it exists once payment approved `quote`.
    static func paid(_ input: ReserveInput, _ quote: Quote) -> (Reserve, [any DomainEvent]) {
        let payment = quote.payment
        let reserve = Reserve(id: payment.matchId, name: input.name, price: payment.price, listPrice: input.price,
                              startDay: input.startDay, endDay: input.endDay, customer: input.customer, status: .paid,
                              promotionId: quote.promotionId, promotional: quote.promotionId != nil)
        return (reserve, [reserve.requested])
    }

    /// Applies the lender's confirmation; a cancelled request stays cancelled.
    mutating func matched() -> [any DomainEvent] {
        if status == .paid { status = .matched }
        return []
    }

    /// The seed's cancel. A rental at a promotional price cannot be cancelled.
    mutating func cancel() throws -> [any DomainEvent] {
        guard !promotional else { throw Refusal.conflict("rental \(id!) was rented at a promotional price and cannot be cancelled") }
        guard status != .cancelled else { throw Refusal.conflict("rental \(id!) is already cancelled") }
        status = .cancelled
        return [ReserveCancelled(matchId: id!, customer: customer)]
    }

    var requested: ReserveRequested {
        ReserveRequested(matchId: id!, name: name, price: price, listPrice: listPrice, startDay: startDay, endDay: endDay,
                         customer: customer, promotional: promotional)
    }
}

/// What a customer posts: the seed sends `status=approve`, which is accepted and ignored
/// (the status is the server's to set).
struct ReserveInput: Decodable, Sendable {
    var name: String?
    var price: Int
    var startDay: String
    var endDay: String
    var customer: String

    func checked() throws -> ReserveInput {
        guard price > 0 else { throw Refusal.invalid("price must be a positive number of won", field: "price") }
        guard !customer.trimmingCharacters(in: .whitespaces).isEmpty else { throw Refusal.invalid("customer must not be empty", field: "customer") }
        try RentalDay.checkPeriod(start: startDay, end: endDay)
        return self
    }
}

/// Reserve's local copy of a promotion, kept from promotion's events so that pricing a
/// request needs no call to promotion.
struct KnownPromotion: Entity {
    static let collection = "knownPromotions"
    var id: Int64?
    var name: String
    var discountRate: Int
    var startDay: String
    var endDay: String

    /// A campaign runs on the days between its first and last (inclusive); a request
    /// made on one of them gets its discount, whatever the rental's own dates.
    func isActive(on day: String) -> Bool { startDay <= day && day <= endDay }

    /// `listPrice` less the discount, rounded down; split by hundreds so that no price a
    /// customer can send overflows (`listPrice * (100 - rate)` traps above ~1e17).
    func price(_ listPrice: Int) -> Int {
        listPrice / 100 * (100 - discountRate) + listPrice % 100 * (100 - discountRate) / 100
    }

    /// The best promotion active on `day`, if any.
    static func best(of promotions: [KnownPromotion], activeOn day: String) -> KnownPromotion? {
        promotions.filter { $0.isActive(on: day) }.max { ($0.discountRate, -$0.id!) < ($1.discountRate, -$1.id!) }
    }
}
