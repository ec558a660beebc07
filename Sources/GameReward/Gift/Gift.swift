import Chassis
import GameRewardContracts

/// A gift issued for one wallet entry. Its id is the entry's id: at most one gift per
/// entry by construction, whatever wallet retries.
struct Gift: Entity, Equatable {
    static let collection = "gifts"
    var id: Int64?
    var walletId: Int64
    var rewardId: Int64
    var customerId: Int64
    var status: Status
    /// **(decision)** What was given; the seed's gift had no product, so "Gift" unless the
    /// customer chose one with the exchange.
    var product: String
    /// The wallet's attempt that issued it (``GiftRequest/exchangeId``).
    var exchangeId: String

    enum Status: String, EntityStatus {
        case exchanged = "Exchanged"
        /// The seed's Feign stub sent `Exchanged.`.
        static let aliases: [String: Status] = ["Exchanged.": .exchanged]
    }

    static func issue(_ request: GiftRequest) throws -> Gift {
        guard Status(spelling: request.status) != nil else {
            throw Refusal.invalid("status must be Exchanged to issue a gift", field: "status")
        }
        let product = request.product?.trimmingCharacters(in: .whitespaces) ?? ""
        guard product.count <= 100 else { throw Refusal.invalid("product must be at most 100 characters", field: "product") }
        guard !request.exchangeId.isEmpty else { throw Refusal.invalid("exchangeId must not be empty", field: "exchangeId") }
        return Gift(id: request.walletId, walletId: request.walletId, rewardId: request.rewardId, customerId: request.customerId, status: .exchanged,
                    product: product.isEmpty ? "Gift" : product, exchangeId: request.exchangeId)
    }
}

/// gift (8084): issues gifts for wallet's exchanges, synchronously; `GET /gifts` lists
/// them. Issuing and voiding are wallet's calls only: internal routes, which the gateway
/// never forwards and gift answers only to the system's own services (a gift posted by
/// anyone else would be free). The seed's overload experiment slows it with the
/// chassis's `GIFT_DELAY_MS`.
public let giftService = ServiceDefinition(name: "gift",
                                           internalRoutes: [.post("/gifts"), .post("/gifts/:id/void")]) { router, runtime in
    Resource<Gift>(store: runtime.store)
        .creating(GiftRequest.self) { request, store in try await gifts.accept(request, in: store) }
        .searchable(by: "walletId", "customerId")
        .register(on: router)
    gifts.registerVoid(on: router, store: runtime.store, keyField: "walletId", attemptField: "exchangeId")
}

/// One gift per wallet entry: a retry of the same attempt gets the gift it made; an entry
/// already exchanged by another attempt, or an attempt wallet voided, is a 409 (wallet
/// passes it on as its own 409, with this reason). Wallet's undo removes the attempt's
/// gift and refuses the attempt from then on; the entry can be exchanged again by another.
let gifts = CallTarget<Gift, GiftRequest>(
    named: { "wallet \($0)" }, key: { $0.walletId }, attempt: { $0.exchangeId }, madeBy: { $0.exchangeId },
    make: { request in (try Gift.issue(request), []) },
    refusing: { gift, request in
        gift.exchangeId == request.exchangeId ? nil : "wallet \(gift.walletId) was already exchanged for gift \(gift.id!)"
    },
    undo: .remove)
