import Chassis
import GameRewardContracts

/// A mission a customer achieved; `rewardId` is filled in once reward issued its reward.
struct Mission: Entity, Equatable {
    static let collection = "missions"
    var id: Int64?
    var customerId: Int64
    var rewardId: Int64?
    var status: Status

    /// The seed records achieved missions only.
    enum Status: String, EntityStatus {
        case achieved = "Achieved"
    }

    static func achieved(_ input: MissionInput) -> Mission {
        Mission(id: nil, customerId: input.customerId, rewardId: nil, status: input.status ?? .achieved)
    }

    var achievement: MissionAchieved { MissionAchieved(id: id!, customerId: customerId, status: status.rawValue) }

    /// Records the reward issued for this mission; the first one stays (there is one).
    mutating func rewarded(_ rewardId: Int64) -> [any DomainEvent] {
        if self.rewardId == nil { self.rewardId = rewardId }
        return []
    }
}

/// What a customer posts: `customerId` (required, a positive number or a numeric string)
/// and an optional `status`, which can only be `Achieved`.
///
/// **(decision)** The seed's own commands send `costomerId=1` (a typo, seed lines 332–333)
/// and expect success, so `costomerId` is taken as `customerId` when that is absent.
struct MissionInput: Decodable, Sendable {
    var customerId: Int64
    var status: Mission.Status?

    enum CodingKeys: String, CodingKey { case customerId, costomerId, status }

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        let key: CodingKeys = fields.contains(.customerId) || !fields.contains(.costomerId) ? .customerId : .costomerId
        customerId = try fields.decode(Int64.self, forKey: key)
        status = try fields.decodeIfPresent(Mission.Status.self, forKey: .status)
    }

    func checked() throws -> MissionInput {
        guard customerId > 0 else { throw Refusal.invalid("customerId must be a positive number", field: "customerId") }
        return self
    }
}

/// mission (8081): records achieved missions (`MissionAchieved`) and the reward each one
/// earned. While reward is down, missions are still recorded; their rewardIds follow.
public let missionService = ServiceDefinition(name: "mission", policies: missionPolicies) { router, runtime in
    Resource<Mission>(store: runtime.store)
        .creating(MissionInput.self, { input in Mission.achieved(try input.checked()) }, raising: { [$0.achievement] })
        .searchable(by: "customerId")
        .register(on: router)
}

let missionPolicies = Policies()
    .on(RewardAllocated.self) { event, tx in
        try await tx.updateIfPresent(Mission.self, id: event.missionId) { $0.rewarded(event.id) }
    }
