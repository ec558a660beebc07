import Chassis
import GameRewardContracts

/// One reward a customer holds. Its id is its reward's id: one entry per reward by
/// construction, so a redelivered `RewardAllocated` finds the entry it made.
struct Wallet: Entity, Equatable {
    static let collection = "wallets"
    var id: Int64?
    var rewardId: Int64
    var missionId: Int64
    var customerId: Int64
    var status: Status
    /// What the entry was exchanged for (chosen with the exchange; gift's default "Gift").
    var product: String?

    enum Status: String, EntityStatus {
        case allocated = "Allocated", exchanged = "Exchanged"
    }

    static func holding(_ reward: RewardAllocated) -> (Wallet, [any DomainEvent]) {
        let entry = Wallet(id: reward.id, rewardId: reward.id, missionId: reward.missionId, customerId: reward.customerId,
                           status: .allocated, product: nil)
        return (entry, [WalletAllocated(walletId: reward.id, rewardId: reward.id, missionId: reward.missionId, customerId: reward.customerId)])
    }

    /// What gift is asked for when `proposed` exchanges this entry, or nil when it does
    /// not (a change that needs no gift). Only the status may change, and only once from
    /// `Allocated` to `Exchanged`; refused before anything is sent to gift.
    func giftRequest(for proposed: Wallet) throws -> GiftRequest? {
        try checkOnlyStatusChanges(to: proposed)
        guard proposed.status == .exchanged else { return nil }
        guard status == .allocated else { throw Refusal.conflict("wallet \(id!) is already exchanged", field: "status") }
        return GiftRequest(walletId: id!, rewardId: rewardId, customerId: customerId, product: proposed.product, exchangeId: RandomID.uuid())
    }

    /// The change itself, once gift issued the gift (or a change that needed none).
    func change(to proposed: inout Wallet) throws -> [any DomainEvent] {
        try checkOnlyStatusChanges(to: proposed)
        switch (status, proposed.status) {
        case (.allocated, .exchanged):
            return [RewardExchanged(walletId: id!, rewardId: rewardId, missionId: missionId, customerId: customerId)]
        case (.exchanged, .allocated):
            throw Refusal.conflict("wallet \(id!) is exchanged and cannot be allocated again", field: "status")
        default:
            return []
        }
    }

    private func checkOnlyStatusChanges(to proposed: Wallet) throws {
        var unchanged = proposed
        unchanged.status = status
        if proposed.status == .exchanged && status == .allocated { unchanged.product = product }
        if let field = try unchanged.fields(differingFrom: self).first {
            throw Refusal.conflict("\(field) of a wallet entry cannot change: only its status, to Exchanged (with a product)", field: field)
        }
    }
}

/// wallet (8083): holds each customer's rewards, one entry per reward, and exchanges them
/// for gifts. `PATCH /wallets/{id} {"status":"Exchanged"}` (or the seed's
/// `http :8083/wallets/1 status=Exchanged`, a POST) asks gift first, synchronously: gift
/// down, slow or refusing is a 503 + `Retry-After` (or a 409 with gift's reason) and the
/// entry keeps its status; an entry already exchanged is a 409 and nothing is sent.
///
/// At most `GIFT_MAX_CONCURRENT` (1) exchanges are pending at gift at once and
/// `GIFT_QUEUE_LIMIT` (1) wait their turn, each at most `GIFT_QUEUE_WAIT_MS` (250); the
/// rest are turned away at once, as the seed's Istio rule (`http1MaxPendingRequests: 1`)
/// did. Each setting can be raised (`ServiceRuntime.client`).
public let walletService = ServiceDefinition(name: "wallet", policies: walletPolicies) { router, runtime in
    let exchange = runtime.gatedCall("exchange", to: "gift", defaultURL: "http://127.0.0.1:8084",
                                     policy: CallPolicy(maxConcurrent: 1, queueLimit: 1), GiftRequest.self,
                                     call: { gift in try .post("/gifts", gift) },
                                     undo: { gift in try .post("/gifts/\(gift.walletId)/void", ["exchangeId": gift.exchangeId]) })
    Resource<Wallet>(store: runtime.store)
        .updating(gatedBy: exchange, when: { stored, proposed in try stored.giftRequest(for: proposed) }) { stored, proposed, _ in
            try stored.change(to: &proposed)
        }
        .takingPostOnItemsAsPatch()
        .searchable(by: "customerId", "missionId", "rewardId")
        .register(on: router)
}

let walletPolicies = Policies()
    .on(RewardAllocated.self) { reward, tx in
        guard try await tx.get(Wallet.self, id: reward.id) == nil else { return }
        let (entry, events) = Wallet.holding(reward)
        try await tx.save(entry)
        try await tx.publish(events)
    }
