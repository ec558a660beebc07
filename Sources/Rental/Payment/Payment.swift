import Chassis
import RentalContracts

/// A payment for one match. Its id is the match id: one payment per rental, which makes
/// approving idempotent (a retried approve finds the payment it already made) and lets
/// `GET /payments/{matchId}` answer as in the seed.
struct Payment: Entity, Equatable {
    static let collection = "payments"
    var id: Int64?
    var matchId: Int64
    var price: Int
    var paymentAction: Action
    var customer: String
    var startDay: String
    var endDay: String
    var name: String?

    enum Action: String, EntityStatus {
        case approved = "Approved", cancelled = "Cancelled"
    }

    /// Whether `request` asks for this very payment: a retry of the approval that made it.
    func isApproval(of request: PaymentRequest) -> Bool {
        paymentAction == .approved && price == request.price && customer == request.customer && startDay == request.startDay
            && endDay == request.endDay && name == request.name && request.paymentAction == Action.approved.rawValue
    }

    static func approve(_ request: PaymentRequest) throws -> (Payment, [any DomainEvent]) {
        guard request.paymentAction == Action.approved.rawValue else {
            throw Refusal.invalid("paymentAction must be Approved to pay", field: "paymentAction")
        }
        guard request.price >= 0 else { throw Refusal.invalid("price must not be negative", field: "price") }
        try RentalDay.checkPeriod(start: request.startDay, end: request.endDay)
        let payment = Payment(id: request.matchId, matchId: request.matchId, price: request.price, paymentAction: .approved,
                              customer: request.customer, startDay: request.startDay, endDay: request.endDay, name: request.name)
        return (payment, [PaymentApproved(matchId: request.matchId, price: request.price, customer: request.customer,
                                          startDay: request.startDay, endDay: request.endDay, name: request.name)])
    }

    /// Gives the money back after a cancellation; twice is a no-op, so redelivered
    /// cancellations are harmless.
    mutating func refund() -> [any DomainEvent] {
        guard paymentAction != .cancelled else { return [] }
        paymentAction = .cancelled
        return [PaymentCancelled(matchId: matchId, price: price, customer: customer)]
    }

    /// Gives the money back for a request that never existed; twice is a no-op.
    mutating func void() -> [any DomainEvent] {
        guard paymentAction != .cancelled else { return [] }
        paymentAction = .cancelled
        return [PaymentVoided(matchId: matchId, price: price, customer: customer)]
    }
}
