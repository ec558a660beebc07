import Chassis
import ChassisTesting
import RentalContracts
import RentalPromotion
import Testing

/// promotion: registers discount campaigns and ends them.
@Suite struct PromotionTests {
    static let june: JSONValue = ["name": "june", "discountRate": 10, "startDay": "20210601", "endDay": "20210630"]

    @Test func aPromotionIsRegisteredAndPublished() async throws {
        try await withService(promotionService) { promotion in
            let reply = try await promotion.post("/promotions", Self.june.with(["discountRate": "10", "id": 42, "extra": true]))

            #expect(reply.status == .created)
            #expect(reply.headers[.location] == "http://localhost/promotions/1", "the server assigns the id")
            #expect(reply.json["discountRate"] == 10)
            #expect(reply.json["extra"] == nil, "unknown fields are ignored")
            #expect(try await promotion.published(PromotionRegistered.self) == [
                PromotionRegistered(promotionId: 1, name: "june", discountRate: 10, startDay: "20210601", endDay: "20210630"),
            ])
        }
    }

    @Test func severalPromotionsMayBeRegisteredAheadAndListed() async throws {
        try await withService(promotionService) { promotion in
            for month in ["07", "08", "09"] {
                _ = try await promotion.post("/promotions", Self.june.with(["name": .string(month), "startDay": .string("2021\(month)01"),
                                                                            "endDay": .string("2021\(month)28")]))
            }
            let page = try await promotion.get("/promotions?size=2&sort=startDay,desc")
            #expect(page.embedded("promotions").map { $0["name"] } == ["09", "08"])
            #expect(page.totalElements == 3)
        }
    }

    @Test func deletingAPromotionEndsIt() async throws {
        try await withService(promotionService) { promotion in
            _ = try await promotion.post("/promotions", Self.june)

            let reply = try await promotion.send(.delete, "/promotions/1")

            #expect(reply.status == .noContent)
            #expect(try await promotion.store.count("promotions", matching: []) == 0)
            #expect(try await promotion.published(PromotionEnded.self) == [PromotionEnded(promotionId: 1)])
        }
    }

    static let badPromotions = [
        BadInput("malformed JSON", raw: #"{"name":"june""#),
        BadInput("a discountRate of 0", june.with(["discountRate": 0]), status: 422, field: "discountRate"),
        BadInput("a discountRate of 95", june.with(["discountRate": 95]), status: 422, field: "discountRate"),
        BadInput("a discountRate that is not a number", june.with(["discountRate": "ten"]), field: "discountRate"),
        BadInput("a discountRate with a fraction", june.with(["discountRate": 12.5]), field: "discountRate"),
        BadInput("no name", june.without("name"), field: "name"),
        BadInput("a blank name", june.with(["name": " "]), status: 422, field: "name"),
        BadInput("a startDay not in yyyyMMdd", june.with(["startDay": "June 1"]), field: "startDay"),
        BadInput("an endDay before the startDay", june.with(["endDay": "20210531"]), status: 422, field: "endDay"),
    ]

    @Test(arguments: badPromotions) func aBadPromotionIsRefused(_ bad: BadInput) async throws {
        try await withService(promotionService) { promotion in
            _ = try await promotion.post("/promotions", Self.june)
            try await promotion.expectRefusal(.post, "/promotions", bad.body, status: bad.status, field: bad.field)
        }
    }

    @Test func unknownPromotionsAndChangesAreRefused() async throws {
        try await withService(promotionService) { promotion in
            _ = try await promotion.post("/promotions", Self.june)
            try await promotion.expectRefusal(.delete, "/promotions/9", status: 404, saying: "promotion 9 does not exist")
            try await promotion.expectRefusal(.get, "/promotions/9", status: 404)
            try await promotion.expectRefusal(.patch, "/promotions/1", #"{"discountRate":50}"#, status: 405)
        }
    }
}
