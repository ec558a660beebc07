import Chassis
import RentalContracts

/// lend (8082): the lenders' request list, filled by events, and their confirmations.
/// While lend is down, requests and payments go on; its list catches up when it returns.
public let lendService = ServiceDefinition(name: "lend", policies: lendPolicies) { router, runtime in
    Resource<RequestListItem>(store: runtime.store).searchable(by: "customer", "status").register(on: router)
    Resource<Lend>(store: runtime.store)
        .creating(LendInput.self) { input, store in try await confirm(input, store: store) }
        .searchable(by: "matchId", "lender")
        .register(on: router)
}

let lendPolicies = Policies()
    .on(PaymentApproved.self) { event, tx in
        guard try await tx.get(RequestListItem.self, id: event.matchId) == nil else { return }
        try await tx.save(RequestListItem(event))
    }
    .on(PaymentCancelled.self) { event, tx in
        // A refund: the request stays listed as cancelled, and its match is cancelled.
        guard var item = try await tx.get(RequestListItem.self, id: event.matchId) else { return }
        item.cancel()
        try await tx.save(item)
        try await cancelMatches(of: event.matchId, tx)
    }
    .on(PaymentVoided.self) { event, tx in
        // The request never existed: it leaves the list (a lender may have confirmed it
        // in the moment it was there; that match is cancelled).
        try await tx.remove(RequestListItem.self, id: event.matchId)
        try await cancelMatches(of: event.matchId, tx)
    }

private func cancelMatches(of matchId: Int64, _ tx: any StoreTransaction) async throws {
    for var lend in try await tx.all(Lend.self, where: "matchId", equals: String(matchId)) {
        let events = lend.cancel()
        try await tx.save(lend)
        try await tx.publish(events)
    }
}

func confirm(_ input: LendInput, store: any Store) async throws -> Lend {
    try await store.write { tx in
        guard var item = try await tx.get(RequestListItem.self, id: input.matchId) else {
            throw Refusal.notFound("request \(input.matchId) is not in the request list (unpaid, unknown, or not yet arrived)")
        }
        let events = try item.confirm(by: input.lender)
        try await tx.save(item)
        let lend = try await tx.save(Lend(matchId: input.matchId, lender: input.lender, customer: item.customer, status: .confirmed))
        try await tx.publish(events)
        return lend
    }
}
