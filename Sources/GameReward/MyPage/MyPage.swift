import Chassis
import GameRewardContracts

/// One mission as its customer sees it on mypage: the mission, its reward and its wallet
/// entry, built only from events (the row's id is the mission id). The events of one
/// mission come from three services, each published after the one it reacts to, so they
/// arrive in that order; still, each status only moves forward, so a late or repeated
/// event never turns `Exchanged` back into `Allocated`.
struct MyPage: Entity, Equatable {
    static let collection = "mypages"
    var id: Int64?
    var missionId: Int64
    var customerId: Int64?
    var rewardId: Int64?
    var walletId: Int64?
    var missionStatus: String?
    var rewardStatus: String?
    var walletStatus: String?

    init(missionId: Int64) {
        id = missionId
        self.missionId = missionId
    }

    static let rewardProgress = Precedence("RewardAllocated", "Exchanged")
    static let walletProgress = Precedence("Allocated", "Exchanged")

    mutating func reward(_ next: String) { Self.rewardProgress.advance(&rewardStatus, to: next) }
    mutating func wallet(_ next: String) { Self.walletProgress.advance(&walletStatus, to: next) }
}

/// mypage (8085): the frontend's read model of missions and wallets, answering while
/// every other service is down. The seed's repository searches:
/// `GET /mypages/search/findByMissionId?missionId=1`, `…/findByRewardId?rewardId=1`.
public let myPageService = ServiceDefinition(name: "mypage", policies: myPagePolicies) { router, runtime in
    Resource<MyPage>(store: runtime.store).searchable(by: "missionId", "rewardId", "customerId").register(on: router)
}

let myPagePolicies = Policies()
    .on(MissionAchieved.self) { e, tx in
        try await upsert(e.id, tx) { $0.customerId = e.customerId; $0.missionStatus = e.status }
    }
    .on(RewardAllocated.self) { e, tx in
        try await upsert(e.missionId, tx) { $0.customerId = e.customerId; $0.rewardId = e.id; $0.reward("RewardAllocated") }
    }
    .on(WalletAllocated.self) { e, tx in
        try await upsert(e.missionId, tx) {
            $0.customerId = e.customerId; $0.rewardId = e.rewardId; $0.walletId = e.walletId
            $0.reward("RewardAllocated"); $0.wallet("Allocated")
        }
    }
    .on(RewardExchanged.self) { e, tx in
        try await upsert(e.missionId, tx) {
            $0.customerId = e.customerId; $0.rewardId = e.rewardId; $0.walletId = e.walletId
            $0.reward("Exchanged"); $0.wallet("Exchanged")
        }
    }

private func upsert(_ missionId: Int64, _ tx: any StoreTransaction, _ change: (inout MyPage) -> Void) async throws {
    var row = try await tx.get(MyPage.self, id: missionId) ?? MyPage(missionId: missionId)
    change(&row)
    try await tx.save(row)
}
