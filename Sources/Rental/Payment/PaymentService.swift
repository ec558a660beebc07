import Chassis
import Foundation
import RentalContracts

/// payment (8083): approves payments synchronously for reserve, refunds on cancellation,
/// voids payments whose request was never committed.
///
/// Configuration: `PAYMENT_DELAY_MS` — an artificial delay before each approval, a number
/// or a range `400-620` (the seed's circuit-breaker experiment); 0 by default.
public let paymentService = ServiceDefinition(name: "payment", policies: paymentPolicies) { router, runtime in
    let delay = ArtificialDelay(runtime.setting("PAYMENT_DELAY_MS", default: "0"))
    Resource<Payment>(store: runtime.store)
        .creating(PaymentRequest.self) { request, store in
            await delay.wait()
            return try await approve(request, in: store)
        }
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

/// Approves once per match: a repeated request returns the existing payment.
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

/// A configured pause: `"0"`, `"500"` or a uniform range `"400-620"` (milliseconds).
struct ArtificialDelay: Sendable {
    let range: ClosedRange<Int>

    init(_ text: String) {
        let bounds = text.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        range = bounds.count == 2 ? min(bounds[0], bounds[1])...max(bounds[0], bounds[1]) : (bounds.first ?? 0)...(bounds.first ?? 0)
    }

    func wait() async {
        let millis = Int.random(in: range)
        if millis > 0 { try? await LoopTimer.sleep(for: .milliseconds(millis)) }
    }
}
