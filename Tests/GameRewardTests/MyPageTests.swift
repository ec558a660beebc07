import Chassis
import ChassisTesting
import GameRewardContracts
import GameRewardMyPage
import Testing

/// mypage: each mission with its reward and wallet entry, built only from events.
@Suite struct MyPageTests {
    static let events: [(any DomainEvent, String)] = [
        (MissionAchieved(id: 3, customerId: 11), "mission"),
        (RewardAllocated(id: 3, missionId: 3, customerId: 11), "reward"),
        (WalletAllocated(walletId: 3, rewardId: 3, missionId: 3, customerId: 11), "wallet"),
        (RewardExchanged(walletId: 3, rewardId: 3, missionId: 3, customerId: 11), "wallet"),
    ]

    func deliver(_ events: [(any DomainEvent, String)], to mypage: ServiceRig) async throws {
        for (event, source) in events { try await mypage.deliver(event, from: source) }
    }

    @Test func aMissionsRowFollowsItsRewardAndWalletEntry() async throws {
        try await withService(myPageService) { mypage in
            try await deliver(Array(Self.events.prefix(3)), to: mypage)
            let allocated = try await mypage.get("/mypages/3")
            #expect(allocated.json["missionStatus"] == "Achieved")
            #expect(allocated.json["rewardStatus"] == "RewardAllocated")
            #expect(allocated.json["walletStatus"] == "Allocated")
            #expect(allocated.json["walletId"] == 3 && allocated.json["rewardId"] == 3 && allocated.json["customerId"] == 11)

            try await deliver(Array(Self.events.suffix(1)), to: mypage)
            let exchanged = try await mypage.get("/mypages/3")
            #expect(exchanged.json["rewardStatus"] == "Exchanged" && exchanged.json["walletStatus"] == "Exchanged")
        }
    }

    /// Statuses only move forward: the same events in another order, and again, give the
    /// same row.
    @Test func lateAndRepeatedEventsNeverMoveAStatusBack() async throws {
        try await withService(myPageService) { mypage in
            try await deliver(Self.events.reversed() + Self.events, to: mypage)
            let row = try await mypage.get("/mypages/3")
            #expect(row.json["missionStatus"] == "Achieved")
            #expect(row.json["rewardStatus"] == "Exchanged" && row.json["walletStatus"] == "Exchanged", "\(row.json)")
            #expect(try await mypage.store.count("mypages", matching: []) == 1)
        }
    }

    @Test func theSeedsSearchesFindRowsByMissionAndReward() async throws {
        try await withService(myPageService) { mypage in
            try await deliver(Self.events, to: mypage)
            try await mypage.deliver(MissionAchieved(id: 4, customerId: 12), from: "mission")

            #expect(try await mypage.get("/mypages/search/findByMissionId?missionId=3").embedded("mypages").map { $0["id"] } == [3])
            #expect(try await mypage.get("/mypages/search/findByRewardId?rewardId=3").embedded("mypages").map { $0["id"] } == [3])
            #expect(try await mypage.get("/mypages/search/findByRewardId?rewardId=4").embedded("mypages").isEmpty)
            #expect(try await mypage.get("/mypages").totalElements == 2)
            try await mypage.expectRefusal(.get, "/mypages/search/findByMissionId", status: 400, field: "missionId")
            try await mypage.expectRefusal(.post, "/mypages", #"{"missionId":9}"#, status: 405)
        }
    }
}
