import Chassis
import ChassisTesting
import GameReward
import GameRewardContracts
import GameRewardMission
import Testing

/// mission: records achieved missions and the rewards they earned.
@Suite struct MissionTests {
    @Test func theSeedsMissionIsRecordedAndPublished() async throws {
        try await withService(missionService) { mission in
            let reply = try await mission.post("/missions", GameRewardSeed.mission())

            #expect(reply.status == .created)
            #expect(reply.headers[.contentType] == HAL.contentType)
            #expect(reply.headers[.location] == "http://localhost/missions/1")
            #expect(reply.json["_links"]?["mission"]?["href"] == "http://localhost/missions/1")
            #expect(reply.json["customerId"] == 11, "httpie's string is a number")
            #expect(reply.json["status"] == "Achieved")
            #expect(reply.json["rewardId"] == nil)
            #expect(try await mission.published(MissionAchieved.self) == [MissionAchieved(id: 1, customerId: 11)])
        }
    }

    /// The seed's commands with reward down send `costomerId=1` and expect `#Success`.
    @Test func theSeedsMisspeltCustomerIdIsTakenAsTheCustomerId() async throws {
        try await withService(missionService) { mission in
            let reply = try await mission.post("/missions", GameRewardSeed.misspeltMission(customerId: 2))

            #expect(reply.status == .created)
            #expect(reply.json["customerId"] == 2)
            #expect(try await mission.published(MissionAchieved.self) == [MissionAchieved(id: 1, customerId: 2)])
            let both = try await mission.post("/missions", ["customerId": 5, "costomerId": 6])
            #expect(both.json["customerId"] == 5, "the right spelling wins")
        }
    }

    @Test func aMissionWithoutAStatusIsAchieved() async throws {
        try await withService(missionService) { mission in
            let reply = try await mission.post("/missions", ["customerId": 3])
            #expect(reply.json["status"] == "Achieved")
        }
    }

    @Test func theIssuedRewardIsRecordedOnceOnItsMission() async throws {
        try await withService(missionService) { mission in
            _ = try await mission.post("/missions", GameRewardSeed.mission())
            let allocated = RewardAllocated(id: 1, missionId: 1, customerId: 11)
            try await mission.deliver(allocated, from: "reward")
            try await mission.deliver(allocated, from: "reward")
            try await mission.deliver(RewardAllocated(id: 9, missionId: 9, customerId: 11), from: "reward")

            #expect(try await mission.get("/missions/1").json["rewardId"] == 1)
            #expect(try await mission.store.count("missions", matching: []) == 1, "a reward for an unknown mission creates none")
            #expect(try await mission.published(MissionAchieved.self).count == 1)
            let found = try await mission.get("/missions/search/findByCustomerId?customerId=11")
            #expect(found.embedded("missions").map { $0["id"] } == [1])
        }
    }

    static let badMissions = [
        BadInput("malformed JSON", raw: #"{"customerId":"#),
        BadInput("an array", raw: "[]"),
        BadInput("no customerId", ["status": "Achieved"], field: "customerId"),
        BadInput("a customerId that is not a number", GameRewardSeed.mission().with(["customerId": "eleven"]), field: "customerId"),
        BadInput("a customerId with a fraction", GameRewardSeed.mission().with(["customerId": 1.5]), field: "customerId"),
        BadInput("a null customerId", GameRewardSeed.mission().with(["customerId": .null]), field: "customerId"),
        BadInput("a customerId of 0", GameRewardSeed.mission().with(["customerId": 0]), status: 422, field: "customerId"),
        BadInput("a negative customerId", GameRewardSeed.mission().with(["customerId": "-4"]), status: 422, field: "customerId"),
        BadInput("a misspelt customerId that is not a number", ["costomerId": "x"], field: "costomerId"),
        BadInput("a status other than Achieved", GameRewardSeed.mission().with(["status": "Failed"]), field: "status"),
        BadInput("a status that is not a string", GameRewardSeed.mission().with(["status": 3]), field: "status"),
    ]

    @Test(arguments: badMissions) func aBadMissionIsRefused(_ bad: BadInput) async throws {
        try await withService(missionService) { mission in
            _ = try await mission.post("/missions", GameRewardSeed.mission())
            try await mission.expectRefusal(.post, "/missions", bad.body, status: bad.status, field: bad.field)
        }
    }

    @Test func missionsCannotBeChangedOrDeletedAndUnknownOnesAre404() async throws {
        try await withService(missionService) { mission in
            _ = try await mission.post("/missions", GameRewardSeed.mission())
            try await mission.expectRefusal(.get, "/missions/9", status: 404, saying: "mission 9 does not exist")
            try await mission.expectRefusal(.patch, "/missions/1", #"{"rewardId":5}"#, status: 405)
            try await mission.expectRefusal(.delete, "/missions/1", status: 405)
        }
    }
}
