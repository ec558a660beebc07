import Chassis
import GameRewardContracts

/// The reward a mission earned. Its id is its mission's id: one reward per mission by
/// construction, so a redelivered `MissionAchieved`, or one handled by a second replica
/// after a takeover, finds the reward it already issued instead of issuing another
/// (and `GET /rewards/1` is mission 1's reward, as in the seed's run).
struct Reward: Entity, Equatable {
    static let collection = "rewards"
    var id: Int64?
    var missionId: Int64
    var customerId: Int64
    var status: Status

    enum Status: String, EntityStatus {
        case allocated = "RewardAllocated", exchanged = "Exchanged"
    }

    static func allocate(for mission: MissionAchieved) -> (Reward, [any DomainEvent]) {
        let reward = Reward(id: mission.id, missionId: mission.id, customerId: mission.customerId, status: .allocated)
        return (reward, [RewardAllocated(id: mission.id, missionId: mission.id, customerId: mission.customerId)])
    }

    /// The customer exchanged it for a gift; twice is a no-op.
    mutating func exchanged() -> [any DomainEvent] {
        status = .exchanged
        return []
    }
}

/// reward (8082): issues one reward per achieved mission (`RewardAllocated`), and marks it
/// exchanged once the customer exchanged it. Rewards are issued, never posted.
public let rewardService = ServiceDefinition(name: "reward", policies: rewardPolicies) { router, runtime in
    Resource<Reward>(store: runtime.store).searchable(by: "missionId", "customerId").register(on: router)
}

let rewardPolicies = Policies()
    .on(MissionAchieved.self) { mission, tx in
        guard try await tx.get(Reward.self, id: mission.id) == nil else { return }
        let (reward, events) = Reward.allocate(for: mission)
        try await tx.save(reward)
        try await tx.publish(events)
    }
    .on(RewardExchanged.self) { event, tx in
        try await tx.updateIfPresent(Reward.self, id: event.rewardId) { $0.exchanged() }
    }
