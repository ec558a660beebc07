import Chassis

// The Game reward system's published language: every event its services exchange, with
// the seed's names and fields. The correlation key is always the mission id: a reward,
// its wallet entry and its exchange all follow from one mission, so every event about it
// lands in one partition, in publish order.

/// A customer achieved a mission (mission, on `POST /missions`).
public struct MissionAchieved: DomainEvent, Equatable {
    public var id: Int64
    public var customerId: Int64
    public var status: String
    public var correlationKey: String { String(id) }
    public init(id: Int64, customerId: Int64, status: String = "Achieved") {
        self.id = id; self.customerId = customerId; self.status = status
    }
}

/// reward issued the mission's reward (one per mission).
public struct RewardAllocated: DomainEvent, Equatable {
    public var id: Int64
    public var missionId: Int64
    public var customerId: Int64
    public var correlationKey: String { String(missionId) }
    public init(id: Int64, missionId: Int64, customerId: Int64) {
        self.id = id; self.missionId = missionId; self.customerId = customerId
    }
}

/// wallet holds a reward: the customer's entry, which they can exchange for a gift.
/// **(decision)** The seed's wallet announced nothing; mypage needs the entry's id and
/// status, and a view is built only from events, so wallet says when it holds a reward.
public struct WalletAllocated: DomainEvent, Equatable {
    public var walletId: Int64
    public var rewardId: Int64
    public var missionId: Int64
    public var customerId: Int64
    public var correlationKey: String { String(missionId) }
    public init(walletId: Int64, rewardId: Int64, missionId: Int64, customerId: Int64) {
        self.walletId = walletId; self.rewardId = rewardId; self.missionId = missionId; self.customerId = customerId
    }
}

/// A wallet entry was exchanged for a gift: gift issued it, then the entry changed.
public struct RewardExchanged: DomainEvent, Equatable {
    public var walletId: Int64
    public var rewardId: Int64
    public var missionId: Int64
    public var customerId: Int64
    public var correlationKey: String { String(missionId) }
    public init(walletId: Int64, rewardId: Int64, missionId: Int64, customerId: Int64) {
        self.walletId = walletId; self.rewardId = rewardId; self.missionId = missionId; self.customerId = customerId
    }
}
