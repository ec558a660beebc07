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
        .creating(PaymentRequest.self) { request, store in try await approve(request, in: store) }
        .searchable(by: "matchId", "customer")
        .register(on: router)
    router.post("payments/:id/void") { _, context in
        let matchId = try context.parameters.require("id", as: Int64.self)
        try await void(matchId: matchId, in: runtime.store)
        return try JSONResponse.make(.ok, ["matchId": .number(Double(matchId)), "voided": true])
    }
}

let paymentPolicies = Policies()
    .on(ReserveCancelled.self) { event, tx in
        try await tx.updateIfPresent(Payment.self, id: event.matchId) { $0.refund() }
    }

/// Approves once per match: a retry of the same request returns the existing payment; a
/// request for the same match with other terms (another price or customer) is a 409, never
/// the old answer, so a payment forged ahead of a real request cannot pass for it.
func approve(_ request: PaymentRequest, in store: any Store) async throws -> Payment {
    try await store.write { tx in
        try await tx.prefetch([(VoidedMatch.collection, request.matchId), (Payment.collection, request.matchId)])
        if try await tx.get(VoidedMatch.self, id: request.matchId) != nil {
            throw Refusal.conflict("payment for match \(request.matchId) was voided")
        }
        if let existing = try await tx.get(Payment.self, id: request.matchId) {
            guard existing.paymentAction == .approved else {
                throw Refusal.conflict("payment for match \(request.matchId) is \(existing.paymentAction.rawValue)")
            }
            guard existing.isApproval(of: request) else {
                throw Refusal.conflict("payment for match \(request.matchId) was approved with other terms")
            }
            return existing
        }
        let (payment, events) = try Payment.approve(request)
        try await tx.save(payment)
        try await tx.publish(events)
        return payment
    }
}

/// Voids the payment of a request that was never committed (reserve's undo of its gated
/// call); idempotent, and it refuses any approval that arrives later for the same match.
func void(matchId: Int64, in store: any Store) async throws {
    try await store.write { tx in
        try await tx.save(VoidedMatch(id: matchId))
        try await tx.updateIfPresent(Payment.self, id: matchId) { $0.void() }
    }
}
