import Chassis
import RentalContracts

/// reserve (8081): takes rental requests, has them paid synchronously, prices them with
/// the best promotion it knows, lets customers cancel.
///
/// Request + pay is a gated create: the request and `ReserveRequested` commit only once
/// payment approved; payment down, slow or refused leaves no request, and a payment of
/// unknown outcome is voided (see `GatedCall`).
public let reserveService = ServiceDefinition(name: "reserve", policies: reservePolicies) { router, runtime in
    let payments = Payments(runtime)
    Resource<Reserve>(store: runtime.store)
        .creating(ReserveInput.self, gatedBy: payments.approve) { input, tx in try await quote(input, promotions: runtime.store, tx) }
            create: { input, quote in Reserve.paid(input, quote) }
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
    .on(PromotionEnded.self) { event, tx in try await tx.remove(KnownPromotion.self, id: event.promotionId) }

/// What payment is asked to approve: the price after the best promotion active today, under
/// the new request's match id. Promotions are read from the committed store, not in the
/// transaction: a promotion is a campaign's copy, not something this request changes,
/// and the read then does not hold the store's writer.
func quote(_ input: ReserveInput, promotions: any DocumentReader, _ tx: any StoreTransaction) async throws -> Quote {
    let input = try input.checked()
    let promotion = KnownPromotion.best(of: try await promotions.all(KnownPromotion.self), activeOn: RentalDay.today())
    let payment = PaymentRequest(matchId: try await tx.nextId(Reserve.collection), price: promotion?.price(input.price) ?? input.price,
                                 customer: input.customer, startDay: input.startDay, endDay: input.endDay, name: input.name)
    return Quote(payment: payment, promotionId: promotion?.id)
}

/// PATCH/PUT: only the status may change, and only to `Cancel` (the seed's word) or
/// `Cancelled`; the item name may be corrected.
func change(_ stored: Reserve, to proposed: inout Reserve) throws -> [any DomainEvent] {
    var unchanged = proposed
    unchanged.status = stored.status
    unchanged.name = stored.name
    guard unchanged == stored else { throw Refusal.conflict("a paid request cannot be changed, only cancelled (status=Cancel)") }
    switch proposed.status {
    case .cancelled:
        let name = proposed.name
        proposed = stored
        proposed.name = name
        return try proposed.cancel()
    case stored.status:
        return []
    default:
        throw Refusal.invalid("status can only be changed to Cancel", field: "status")
    }
}
