import Chassis
import ChassisTesting
import GameRewardContracts
import GameRewardReward
import Testing

/// reward: one reward per achieved mission, exchanged when its wallet entry is.
@Suite struct RewardTests {
    @Test func anAchievedMissionEarnsOneRewardEvenWhenDeliveredTwice() async throws {
        try await withService(rewardService) { reward in
            let achieved = MissionAchieved(id: 4, customerId: 11)
            try await reward.deliver(achieved, from: "mission")
            try await reward.deliver(achieved, from: "mission")

            let issued = try await reward.get("/rewards/4")
            #expect(issued.json["missionId"] == 4)
            #expect(issued.json["customerId"] == 11)
            #expect(issued.json["status"] == "RewardAllocated")
            #expect(try await reward.store.count("rewards", matching: []) == 1)
            #expect(try await reward.published(RewardAllocated.self) == [RewardAllocated(id: 4, missionId: 4, customerId: 11)])
            let found = try await reward.get("/rewards/search/findByMissionId?missionId=4")
            #expect(found.embedded("rewards").map { $0["id"] } == [4])
        }
    }

    @Test func anExchangedRewardIsMarkedExchanged() async throws {
        try await withService(rewardService) { reward in
            try await reward.deliver(MissionAchieved(id: 1, customerId: 11), from: "mission")
            let exchanged = RewardExchanged(walletId: 1, rewardId: 1, missionId: 1, customerId: 11)
            try await reward.deliver(exchanged, from: "wallet")
            try await reward.deliver(exchanged, from: "wallet")

            #expect(try await reward.get("/rewards/1").json["status"] == "Exchanged")
            #expect(try await reward.published(RewardAllocated.self).count == 1, "an exchange publishes nothing")
        }
    }

    @Test func rewardsAreIssuedNeverPostedChangedOrDeleted() async throws {
        try await withService(rewardService) { reward in
            try await reward.deliver(MissionAchieved(id: 1, customerId: 11), from: "mission")
            try await reward.expectRefusal(.post, "/rewards", #"{"missionId":2,"customerId":1}"#, status: 405)
            try await reward.expectRefusal(.patch, "/rewards/1", #"{"status":"Exchanged"}"#, status: 405)
            try await reward.expectRefusal(.delete, "/rewards/1", status: 405)
            try await reward.expectRefusal(.get, "/rewards/2", status: 404)
        }
    }
}
