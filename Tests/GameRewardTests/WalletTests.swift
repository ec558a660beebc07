import Chassis
import ChassisTesting
import GameReward
import GameRewardContracts
import GameRewardWallet
import Testing

/// wallet: one entry per reward; exchanging one asks gift first, synchronously.
@Suite struct WalletTests {
    static let reward = RewardAllocated(id: 1, missionId: 1, customerId: 11)

    /// Wallet holding reward 1, with gift played by `gift` on a live port.
    func withWallet(gift: TargetStub = giftStub(.approving), environment: [String: String] = [:],
                    _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
        try await withLiveServer(gift.router) { port in
            // A timeout no busy machine reaches (a retry would show as a second call),
            // unless a test sets its own.
            let settings = ["GIFT_URL": "http://127.0.0.1:\(port)", "GIFT_TIMEOUT_MS": "5000"].merging(environment) { _, given in given }
            try await withService(walletService, environment: settings) { wallet in
                try await wallet.deliver(Self.reward, from: "reward")
                try await body(wallet)
            }
        }
    }

    /// The refused exchange left the entry as it was and published nothing about it.
    func expectUnchanged(_ wallet: ServiceRig, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await wallet.get("/wallets/1").json["status"] == "Allocated", sourceLocation: sourceLocation)
        #expect(try await wallet.published(RewardExchanged.self).isEmpty, sourceLocation: sourceLocation)
    }

    /// Runs wallet's undo job until it asked gift to void every attempt it sent, and forgot them.
    func expectVoided(by gift: TargetStub, in wallet: ServiceRig) async throws {
        try await eventually("the attempts voided and their calls forgotten") {
            try await wallet.host.undoPendingCalls()
            let sent = Set(gift.calls.compactMap { $0["exchangeId"]?.stringValue })
            let voided = Set(gift.undos.compactMap { $0.body["exchangeId"]?.stringValue })
            let pending = try await wallet.store.count("pendingCalls", matching: [])
            return !sent.isEmpty && voided == sent && gift.undos.allSatisfy { $0.id == "1" } && pending == 0
        }
    }

    @Test func aRewardIsHeldInOneEntryEvenWhenDeliveredTwice() async throws {
        try await withWallet { wallet in
            try await wallet.deliver(Self.reward, from: "reward")

            let entry = try await wallet.get("/wallets/1")
            #expect(entry.json["rewardId"] == 1)
            #expect(entry.json["missionId"] == 1)
            #expect(entry.json["customerId"] == 11)
            #expect(entry.json["status"] == "Allocated")
            #expect(try await wallet.store.count("wallets", matching: []) == 1)
            #expect(try await wallet.published(WalletAllocated.self) == [WalletAllocated(walletId: 1, rewardId: 1, missionId: 1, customerId: 11)])
            #expect(try await wallet.get("/wallets/search/findByMissionId?missionId=1").embedded("wallets").count == 1)
        }
    }

    @Test func anExchangeAsksGiftThenChangesTheEntryAndPublishes() async throws {
        let gift = giftStub(.approving)
        try await withWallet(gift: gift) { wallet in
            let reply = try await wallet.patch("/wallets/1", GameRewardSeed.exchange)

            #expect(reply.status == .ok, "\(reply.json)")
            #expect(reply.json["status"] == "Exchanged")
            #expect(gift.calls.count == 1)
            let sent = try #require(gift.calls.first)
            #expect(sent["walletId"] == 1 && sent["rewardId"] == 1 && sent["customerId"] == 11 && sent["status"] == "Exchanged", "\(sent)")
            #expect(try await wallet.published(RewardExchanged.self) == [RewardExchanged(walletId: 1, rewardId: 1, missionId: 1, customerId: 11)])
            #expect(try await wallet.get("/wallets/1").json["status"] == "Exchanged")
            try await wallet.host.undoPendingCalls()
            #expect(gift.undos.isEmpty)
            #expect(try await wallet.store.count("pendingCalls", matching: []) == 0)
        }
    }

    /// httpie sends the seed's `http :8083/wallets/1 status=Exchanged` as a POST.
    @Test func theSeedsExchangeCommandAPostToTheEntryWorksToo() async throws {
        let gift = giftStub(.approving)
        try await withWallet(gift: gift) { wallet in
            let reply = try await wallet.post("/wallets/1", GameRewardSeed.exchange.with(["product": "Potion"]))

            #expect(reply.status == .ok, "\(reply.json)")
            #expect(reply.json["status"] == "Exchanged")
            #expect(reply.json["product"] == "Potion")
            #expect(gift.calls.first?["product"] == "Potion")
            try await wallet.expectRefusal(.post, "/wallets", #"{"status":"Exchanged"}"#, status: 405)
        }
    }

    @Test func anEntryAlreadyExchangedIsAConflictAndNothingIsSentToGift() async throws {
        let gift = giftStub(.approving)
        try await withWallet(gift: gift) { wallet in
            _ = try await wallet.patch("/wallets/1", GameRewardSeed.exchange)
            try await wallet.expectRefusal(.patch, "/wallets/1", GameRewardSeed.exchange.text, status: 409, field: "status", saying: "already exchanged")
            try await wallet.expectRefusal(.post, "/wallets/1", GameRewardSeed.exchange.text, status: 409)
            try await wallet.expectRefusal(.patch, "/wallets/1", #"{"status":"Allocated"}"#, status: 409, field: "status")
            #expect(gift.calls.count == 1)
        }
    }

    @Test func giftDownTurnsTheExchangeAwayAndLeavesTheEntry() async throws {
        let port = try await closedPort()
        try await withService(walletService, environment: ["GIFT_URL": "http://127.0.0.1:\(port)", "GIFT_TIMEOUT_MS": "200"]) { wallet in
            try await wallet.deliver(Self.reward, from: "reward")
            let reply = try await wallet.patch("/wallets/1", GameRewardSeed.exchange)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.headers[.retryAfter] == "1")
            #expect(reply.error == "gift is unavailable: not reachable")
            try await expectUnchanged(wallet)
        }
    }

    @Test func aFailingGiftTurnsTheExchangeAwayAndTheAttemptIsVoided() async throws {
        let gift = giftStub(.failing)
        try await withWallet(gift: gift) { wallet in
            let reply = try await wallet.patch("/wallets/1", GameRewardSeed.exchange)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.headers[.retryAfter] != nil)
            #expect(reply.error == "gift is unavailable: answered 500")
            try await expectUnchanged(wallet)
            try await expectVoided(by: gift, in: wallet)
        }
    }

    @Test func aGiftSlowerThanTheTimeoutTurnsTheExchangeAwayAndIsVoidedThenANewAttemptSucceeds() async throws {
        let gift = giftStub(.hanging)
        try await withWallet(gift: gift, environment: ["GIFT_TIMEOUT_MS": "150", "GIFT_RETRIES": "0"]) { wallet in
            let reply = try await wallet.patch("/wallets/1", GameRewardSeed.exchange)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.error == "gift is unavailable: timed out after 150 ms")
            try await expectUnchanged(wallet)
            try await expectVoided(by: gift, in: wallet)

            gift.behave(.approving)
            // On a busy machine even the approving stub can miss 150 ms: retry as a
            // customer would, each attempt of unknown outcome undone before the next.
            try await eventually("a new attempt accepted") {
                try await wallet.host.undoPendingCalls()
                return try await wallet.patch("/wallets/1", GameRewardSeed.exchange).status == .ok
            }
            let attempts = gift.calls.compactMap { $0["exchangeId"]?.stringValue }
            #expect(attempts.count >= 2 && Set(attempts).count == attempts.count, "each attempt has an id of its own: \(attempts)")
            let voided = Set(gift.undos.compactMap { $0.body["exchangeId"]?.stringValue })
            #expect(!voided.contains(attempts.last!), "the attempt that succeeded was voided")
        }
    }

    @Test func giftsVerdictIsPassedOnAndNothingChanges() async throws {
        let gift = giftStub(.refusing("out of gifts"))
        try await withWallet(gift: gift) { wallet in
            let reply = try await wallet.patch("/wallets/1", GameRewardSeed.exchange)

            #expect(reply.status == .conflict)
            #expect(reply.error == "gift refused: out of gifts")
            try await expectUnchanged(wallet)
            try await wallet.host.undoPendingCalls()
            #expect(gift.undos.isEmpty, "a refused call did nothing to undo")
        }
    }

    /// Two customers' devices exchange the same entry at once: one reaches gift, the
    /// other is refused before it is sent.
    @Test func twoConcurrentExchangesOfOneEntryMakeOneGift() async throws {
        let gift = giftStub(.slow(.milliseconds(300)))
        try await withWallet(gift: gift, environment: ["GIFT_MAX_CONCURRENT": "4"]) { wallet in
            async let first = wallet.patch("/wallets/1", GameRewardSeed.exchange)
            async let second = wallet.patch("/wallets/1", GameRewardSeed.exchange)
            let statuses = [try await first.status.code, try await second.status.code].sorted()

            #expect(statuses == [200, 409], "\(statuses)")
            #expect(gift.calls.count == 1)
            #expect(try await wallet.published(RewardExchanged.self).count == 1)
        }
    }

    /// The seed's Istio rule: one call pending at gift and one waiting; a third exchange
    /// meanwhile is turned away at once, and the one waiting gives up after its wait.
    @Test func oneExchangeIsPendingAtGiftAtATimeByDefault() async throws {
        // Long enough that all three are at wallet while the first is at gift, however busy
        // the machine.
        let gift = giftStub(.slow(.milliseconds(1500)))
        try await withWallet(gift: gift) { wallet in
            for id in 2...3 { try await wallet.deliver(RewardAllocated(id: Int64(id), missionId: Int64(id), customerId: 11), from: "reward") }
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for id in 1...3 { group.addTask { try await wallet.patch("/wallets/\(id)", GameRewardSeed.exchange) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let statuses = replies.map(\.status.code).sorted()
            let refused = replies.filter { $0.status.code == 503 }
            #expect(statuses == [200, 503, 503], "\(replies.map(\.json))")
            #expect(refused.count == 2 && refused.allSatisfy { $0.headers[.retryAfter] != nil }, "\(replies.map(\.json))")
            #expect(refused.contains { $0.error?.contains("too many concurrent calls") == true }, "\(refused.map(\.json))")
            #expect(gift.calls.count == 1)
            #expect(try await wallet.published(RewardExchanged.self).count == 1)
        }
    }

    @Test func aRaisedLimitLetsConcurrentExchangesThrough() async throws {
        let gift = giftStub(.slow(.milliseconds(200)))
        try await withWallet(gift: gift, environment: ["GIFT_MAX_CONCURRENT": "3"]) { wallet in
            for id in 2...3 { try await wallet.deliver(RewardAllocated(id: Int64(id), missionId: Int64(id), customerId: 11), from: "reward") }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for id in 1...3 { group.addTask { try await wallet.patch("/wallets/\(id)", GameRewardSeed.exchange).status.code } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == [200, 200, 200])
            #expect(gift.calls.count == 3)
        }
    }

    static let badChanges = [
        BadInput("malformed JSON", raw: #"{"status":"#),
        BadInput("a body that is not an object", raw: "[]"),
        BadInput("an unknown status", ["status": "Lost"], field: "status"),
        BadInput("a status that is not a string", ["status": 1], field: "status"),
        BadInput("another customer", ["customerId": 12], status: 409, field: "customerId"),
        BadInput("another reward", ["rewardId": "2", "status": "Exchanged"], status: 409, field: "rewardId"),
        BadInput("a product without the exchange", ["product": "Sword"], status: 409, field: "product"),
        BadInput("a customerId that is not a number", ["customerId": "x"], field: "customerId"),
    ]

    @Test(arguments: badChanges) func aBadChangeIsRefusedAndNothingIsSentToGift(_ bad: BadInput) async throws {
        let gift = giftStub(.approving)
        try await withWallet(gift: gift) { wallet in
            try await wallet.expectRefusal(.patch, "/wallets/1", bad.body, status: bad.status, field: bad.field)
            try await wallet.expectRefusal(.post, "/wallets/1", bad.body, status: bad.status, field: bad.field)
            #expect(gift.calls.isEmpty)
        }
    }

    @Test func unknownEntriesAre404AndEntriesAreNeitherPostedNorDeleted() async throws {
        let gift = giftStub(.approving)
        try await withWallet(gift: gift) { wallet in
            try await wallet.expectRefusal(.patch, "/wallets/9", GameRewardSeed.exchange.text, status: 404, saying: "wallet 9 does not exist")
            try await wallet.expectRefusal(.post, "/wallets/9", GameRewardSeed.exchange.text, status: 404)
            try await wallet.expectRefusal(.delete, "/wallets/1", status: 405)
            try await wallet.expectRefusal(.post, "/wallets", #"{"rewardId":1}"#, status: 405)
            #expect(gift.calls.isEmpty)
        }
    }
}

/// Gift played by a ``TargetStub``: `POST /gifts`, undone by `POST /gifts/{walletId}/void`.
func giftStub(_ behaviour: TargetStub.Behaviour) -> TargetStub {
    TargetStub(behaviour, call: "gifts", undo: "gifts/:id/void")
}
