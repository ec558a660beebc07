import Chassis

/// The body wallet sends to `POST /gifts` (the seed's Feign `Gift`): exchange this entry
/// for a gift.
///
/// `exchangeId` names this one attempt. Gift keeps at most one gift per wallet entry, so a
/// retry of the same attempt finds the gift it made; wallet undoes an attempt of unknown
/// outcome by voiding its `exchangeId` (`POST /gifts/{walletId}/void {exchangeId}`), which
/// removes the gift it made, if any, and refuses it if it arrives later — and leaves the
/// entry free to be exchanged again by a new attempt.
public struct GiftRequest: Codable, Sendable, Equatable {
    public var walletId: Int64
    public var rewardId: Int64
    public var customerId: Int64
    public var status: String
    public var product: String?
    public var exchangeId: String

    public init(walletId: Int64, rewardId: Int64, customerId: Int64, status: String = "Exchanged", product: String? = nil,
                exchangeId: String) {
        self.walletId = walletId; self.rewardId = rewardId; self.customerId = customerId; self.status = status
        self.product = product; self.exchangeId = exchangeId
    }
}
