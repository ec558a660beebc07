import Chassis
import RentalContracts

/// A paid request as lenders see it in their list (`GET /requestLists`), keyed by match id.
/// Filled only from `PaymentApproved`, so an unpaid request never appears here.
struct RequestListItem: Entity, Equatable {
    static let collection = "requestLists"
    var id: Int64?
    var matchId: Int64
    var name: String?
    var price: Int
    var customer: String
    var startDay: String
    var endDay: String
    var status: Status
    var lender: String?

    enum Status: String, EntityStatus {
        case open = "Requested", matched = "Matched", cancelled = "Cancelled"
    }

    init(_ event: PaymentApproved) {
        id = event.matchId
        matchId = event.matchId
        name = event.name
        price = event.price
        customer = event.customer
        startDay = event.startDay
        endDay = event.endDay
        status = .open
    }

    /// A lender takes the request; unknown, cancelled or already matched requests are refused.
    mutating func confirm(by lender: String?) throws -> [any DomainEvent] {
        switch status {
        case .matched: throw Refusal.conflict("request \(matchId) is already matched by \(self.lender ?? "another lender")")
        case .cancelled: throw Refusal.conflict("request \(matchId) was cancelled")
        case .open: break
        }
        status = .matched
        self.lender = lender
        return [LendConfirmed(matchId: matchId, lender: lender, customer: customer, name: name)]
    }

    mutating func cancel() { status = .cancelled }
}

/// A lender's confirmation of a request: the match.
struct Lend: Entity, Equatable {
    static let collection = "lends"
    var id: Int64?
    var matchId: Int64
    var lender: String?
    var customer: String?
    var status: Status

    enum Status: String, EntityStatus {
        case confirmed = "Confirmed", cancelled = "Cancelled"
    }

    mutating func cancel() -> [any DomainEvent] {
        guard status != .cancelled else { return [] }
        status = .cancelled
        return [LendCancelled(matchId: matchId, lender: lender, customer: customer ?? "")]
    }
}

/// `POST /lends {matchId, lender}`. `lender` is optional because the seed's own command
/// misspells it (`lenrer=andy`) and must still work; unknown fields are ignored.
struct LendInput: Decodable {
    var matchId: Int64
    var lender: String?
}
