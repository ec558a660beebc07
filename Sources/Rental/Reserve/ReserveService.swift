import Chassis
import Foundation
import RentalContracts

/// reserve (8081): takes rental requests, has them paid synchronously, prices them with
/// the best promotion it knows, lets customers cancel. `PAYMENT_URL` (default
/// `http://127.0.0.1:8083`) is where payment answers; see `ServiceRuntime.client`.
public let reserveService = ServiceDefinition(name: "reserve", policies: reservePolicies, jobs: [sweepPaymentIntents]) { router, runtime in
    let payments = Payments(runtime)
    Resource<Reserve>(store: runtime.store)
        .creating { body, store in try await requestRental(try JSON.decode(ReserveInput.self, from: body).checked(), store: store, payments: payments) }
        .updating { stored, proposed, _ in try change(stored, to: &proposed) }
        .searchable(by: "customer", "status")
        .register(on: router)
}

let reservePolicies = Policies()
    .on(LendConfirmed.self) { event, tx in
        // A lender can confirm a payment whose request never committed before its void
        // lands (lend then cancels the match): there is nothing here to match.
        try await tx.updateIfPresent(Reserve.self, id: event.matchId) { $0.matched() }
    }
    .on(PromotionRegistered.self) { event, tx in
        try await tx.save(KnownPromotion(id: event.promotionId, name: event.name, discountRate: event.discountRate,
                                         startDay: event.startDay, endDay: event.endDay))
    }
    .on(PromotionEnded.self) { event, tx in try await tx.remove(KnownPromotion.collection, id: event.promotionId) }

/// Request + pay. Order matters for "no orphan payment, no unpaid request": the intent is
/// committed first, payment is called outside any transaction, and the paid request and
/// `ReserveRequested` commit together only after payment approved. If payment fails,
/// times out or its breaker is open, the caller gets 503 + Retry-After and the payment
/// (which may still land late) is voided; the sweeper retries voids that fail.
func requestRental(_ input: ReserveInput, store: any Store, payments: Payments) async throws -> Reserve {
    let promotion = KnownPromotion.best(of: try await store.all(KnownPromotion.self), forRentalStarting: input.startDay)
    let price = promotion?.price(input.price) ?? input.price
    let matchId = try await store.write { tx in
        let id = try await tx.nextId(Reserve.collection)
        try await tx.save(PaymentIntent(id: id, createdAt: Clock.millis()))
        return id
    }
    let request = PaymentRequest(matchId: matchId, price: price, customer: input.customer, startDay: input.startDay,
                                 endDay: input.endDay, name: input.name)
    do {
        try await payments.approve(request)
    } catch {
        Task { await payments.voidQuietly(matchId, store: store) }
        throw error
    }
    return try await store.write { tx in
        let reserve = try await tx.save(Reserve(id: matchId, name: input.name, price: price, listPrice: input.price,
                                                startDay: input.startDay, endDay: input.endDay, customer: input.customer,
                                                status: Reserve.paid, promotionId: promotion?.id, promotional: promotion != nil))
        try await tx.remove(PaymentIntent.collection, id: matchId)
        try await tx.publish(reserve.requested)
        return reserve
    }
}

/// PATCH/PUT: only the status may change, and only to `Cancel` (the seed's word) or
/// `Cancelled`; the item name may be corrected.
func change(_ stored: Reserve, to proposed: inout Reserve) throws -> [any DomainEvent] {
    var unchanged = proposed
    unchanged.status = stored.status
    unchanged.name = stored.name
    guard unchanged == stored else { throw Refusal.conflict("a paid request cannot be changed, only cancelled (status=Cancel)") }
    guard proposed.status != stored.status else { return [] }
    guard ["Cancel", Reserve.cancelled].contains(proposed.status) else {
        throw Refusal.invalid("status can only be changed to Cancel", field: "status")
    }
    let name = proposed.name
    proposed = stored
    proposed.name = name
    return try proposed.cancel()
}

/// Every few seconds, voids payments of requests that never committed (reserve crashed
/// between payment and commit, or a void after a failed call did not get through).
@Sendable func sweepPaymentIntents(_ runtime: ServiceRuntime) async throws {
    let payments = Payments(runtime)
    let age = Int64(runtime.setting("RESERVE_INTENT_AGE_MS", default: 10_000))
    while !Task.isCancelled {
        try await Task.sleep(for: .seconds(2))
        let stale = try await runtime.store.all(PaymentIntent.self).filter { Clock.millis() - $0.createdAt > age }
        for intent in stale { await payments.voidQuietly(intent.id!, store: runtime.store) }
    }
}
