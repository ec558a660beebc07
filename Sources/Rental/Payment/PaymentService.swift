import Chassis
import Foundation
import RentalContracts

/// payment (8083): approves payments synchronously for reserve, refunds on cancellation,
/// voids payments whose request was never committed.
/// The seed's circuit-breaker experiment slows it with the chassis's `PAYMENT_DELAY_MS`
/// (`400-620`).
///
/// Approving and voiding are reserve's calls only: internal routes, which the gateway
/// never forwards and payment answers only to the system's own services.
public let paymentService = ServiceDefinition(name: "payment", policies: paymentPolicies,
                                              internalRoutes: [.post("/payments"), .post("/payments/:id/void")]) { router, runtime in
    Resource<Payment>(store: runtime.store)
        .creating(PaymentRequest.self) { request, store in try await payments.accept(request, in: store) }
        .searchable(by: "matchId", "customer")
        .register(on: router)
    payments.registerVoid(on: router, store: runtime.store, keyField: "matchId")
}

let paymentPolicies = Policies()
    .on(ReserveCancelled.self) { event, tx in
        try await tx.updateIfPresent(Payment.self, id: event.matchId) { $0.refund() }
    }

/// One payment per match: a retry of the same request returns the existing payment; a
/// request for the same match with other terms (another price or customer) is a 409, never
/// the old answer, so a payment forged ahead of a real request cannot pass for it. Reserve's
/// undo voids the payment of a request that was never committed (`PaymentVoided`) and
/// refuses any approval that arrives later for the same match.
let payments = CallTarget<Payment, PaymentRequest>(
    named: { "payment for match \($0)" }, key: { $0.matchId }, make: Payment.approve,
    refusing: { existing, request in
        guard existing.paymentAction == .approved else { return "payment for match \(request.matchId) is \(existing.paymentAction.rawValue)" }
        return existing.isApproval(of: request) ? nil : "payment for match \(request.matchId) was approved with other terms"
    },
    undo: .change { $0.void() })
