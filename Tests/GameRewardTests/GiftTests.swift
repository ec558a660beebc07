import Chassis
import ChassisTesting
import GameRewardContracts
import GameRewardGift
import Hummingbird
import Testing

/// gift: one gift per wallet entry, whatever wallet retries; undone attempts leave none.
@Suite struct GiftTests {
    static func request(_ exchangeId: String = "attempt-1", wallet: Int64 = 1) -> JSONValue {
        ["walletId": .number(Double(wallet)), "rewardId": .number(Double(wallet)), "customerId": 11, "status": "Exchanged",
         "exchangeId": .string(exchangeId)]
    }

    @Test func anExchangeIssuesAGiftUnderItsWalletId() async throws {
        try await withService(giftService) { gift in
            let reply = try await gift.post("/gifts", Self.request())

            #expect(reply.status == .created)
            #expect(reply.headers[.location] == "http://localhost/gifts/1")
            #expect(reply.json["product"] == "Gift")
            #expect(reply.json["status"] == "Exchanged")
            #expect(try await gift.get("/gifts/search/findByWalletId?walletId=1").embedded("gifts").count == 1)
        }
    }

    @Test func aRetriedAttemptGetsItsGiftAndAnotherAttemptIsAConflict() async throws {
        try await withService(giftService) { gift in
            _ = try await gift.post("/gifts", Self.request().with(["product": "Potion"]))
            let retry = try await gift.post("/gifts", Self.request().with(["product": "Potion"]))
            #expect(retry.status == .created)
            #expect(retry.json["product"] == "Potion")
            try await gift.expectRefusal(.post, "/gifts", Self.request("attempt-2").text, status: 409, saying: "already exchanged for gift 1")
            #expect(try await gift.store.count("gifts", matching: []) == 1)
        }
    }

    @Test func aVoidedAttemptLeavesNoGiftIsRefusedLaterAndFreesTheEntry() async throws {
        try await withService(giftService) { gift in
            _ = try await gift.post("/gifts", Self.request())
            for _ in 0..<2 {
                let voided = try await gift.post("/gifts/1/void", ["exchangeId": "attempt-1"])
                #expect(voided.status == .ok)
            }
            #expect(try await gift.store.count("gifts", matching: []) == 0)
            try await gift.expectRefusal(.post, "/gifts", Self.request().text, status: 409, saying: "was voided")
            #expect(try await gift.post("/gifts", Self.request("attempt-2")).status == .created)
            // A void that arrives first refuses its attempt when it comes.
            _ = try await gift.post("/gifts/2/void", ["exchangeId": "early"])
            try await gift.expectRefusal(.post, "/gifts", Self.request("early", wallet: 2).text, status: 409)
        }
    }

    static let badRequests = [
        BadInput("malformed JSON", raw: "{"),
        BadInput("no walletId", request().without("walletId"), field: "walletId"),
        BadInput("no exchangeId", request().without("exchangeId"), field: "exchangeId"),
        BadInput("a walletId that is not a number", request().with(["walletId": "one"]), field: "walletId"),
        BadInput("a status other than Exchanged", request().with(["status": "Allocated"]), status: 422, field: "status"),
        BadInput("an empty exchangeId", request().with(["exchangeId": ""]), status: 422, field: "exchangeId"),
        BadInput("a product too long", request().with(["product": .string(String(repeating: "x", count: 101))]), status: 422, field: "product"),
    ]

    @Test(arguments: badRequests) func aBadRequestIsRefused(_ bad: BadInput) async throws {
        try await withService(giftService) { gift in
            try await gift.expectRefusal(.post, "/gifts", bad.body, status: bad.status, field: bad.field)
        }
    }

    @Test func issuingAndVoidingNeedTheSystemsCredential() async throws {
        try await withService(giftService) { gift in
            for path in ["/gifts", "/gifts/1/void"] {
                let response = try await gift.client.execute(uri: path, method: .post, headers: [.contentType: "application/json"],
                                                             body: ByteBuffer(string: Self.request().text))
                #expect(response.status == .forbidden, "\(path)")
            }
            #expect(try await gift.store.count("gifts", matching: []) == 0)
            let list = try await gift.client.execute(uri: "/gifts", method: .get, headers: [:], body: nil)
            #expect(list.status == .ok, "the seed's siege reads gift without a credential")
        }
    }
}
