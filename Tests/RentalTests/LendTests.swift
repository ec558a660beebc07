import Chassis
import ChassisTesting
import RentalContracts
import RentalLend
import Testing

/// lend: the request list filled from payments, and lenders' confirmations.
@Suite struct LendTests {
    static func paid(_ matchId: Int64, customer: String = "andy") -> PaymentApproved {
        PaymentApproved(matchId: matchId, price: 20000, customer: customer, startDay: "20210624", endDay: "20210624", name: "tent")
    }

    @Test func aPaidRequestAppearsInTheRequestList() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(4), from: "payment")

            let item = try await lend.get("/requestLists/4")

            #expect(item.status == .ok)
            #expect(item.json["status"] == "Requested")
            #expect(item.json["customer"] == "andy")
            #expect(item.json["_links"]?["requestList"]?["href"] == "http://localhost/requestLists/4")
            try await lend.expectRefusal(.get, "/requestLists/5", status: 404, saying: "requestList 5 does not exist")
        }
    }

    @Test func theRequestListIsPaged() async throws {
        try await withService(lendService) { lend in
            for matchId in 1...3 { try await lend.deliver(Self.paid(Int64(matchId)), from: "payment") }

            let first = try await lend.get("/requestLists?size=2")
            let second = try await lend.get("/requestLists?size=2&page=1")

            #expect(first.embedded("requestLists").map { $0["matchId"] } == [1, 2])
            #expect(second.embedded("requestLists").map { $0["matchId"] } == [3])
            #expect(first.totalElements == 3)
            #expect(second.json["page"]?["number"] == 1)
        }
    }

    @Test func theSeedsConfirmationWithItsTypoMatchesTheRequest() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")

            let reply = try await lend.send(.post, "/lends", #"{"matchId":"1","lenrer":"andy"}"#)

            #expect(reply.status == .created)
            #expect(reply.headers[.location] == "http://localhost/lends/1")
            #expect(reply.json["matchId"] == 1)
            #expect(reply.json["status"] == "Confirmed")
            #expect(try await lend.get("/requestLists/1").json["status"] == "Matched")
            #expect(try await lend.published(LendConfirmed.self) == [LendConfirmed(matchId: 1, lender: nil, customer: "andy", name: "tent")])
        }
    }

    @Test func aConfirmationNamesItsLender() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")
            _ = try await lend.post("/lends", ["matchId": 1, "lender": "Safemate"])

            #expect(try await lend.get("/requestLists/1").json["lender"] == "Safemate")
            #expect(try await lend.published(LendConfirmed.self).map(\.lender) == ["Safemate"])
            let found = try await lend.get("/lends/search/findByLender?lender=Safemate")
            #expect(found.embedded("lends").map { $0["matchId"] } == [1])
        }
    }

    @Test func aRedeliveredPaymentDoesNotReopenAMatchedRequest() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")
            _ = try await lend.post("/lends", ["matchId": 1, "lender": "Safemate"])
            try await lend.deliver(Self.paid(1), from: "payment")
            #expect(try await lend.get("/requestLists/1").json["status"] == "Matched")
        }
    }

    @Test func aRefundCancelsTheMatch() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")
            _ = try await lend.post("/lends", ["matchId": 1, "lender": "Safemate"])

            try await lend.deliver(PaymentCancelled(matchId: 1, price: 20000, customer: "andy"), from: "payment")

            #expect(try await lend.get("/requestLists/1").json["status"] == "Cancelled")
            #expect(try await lend.get("/lends/1").json["status"] == "Cancelled")
            #expect(try await lend.published(LendCancelled.self) == [LendCancelled(matchId: 1, lender: "Safemate", customer: "andy")])
        }
    }

    // MARK: - Refused

    @Test func confirmingAnUnknownRequestIsRefused() async throws {
        try await withService(lendService) { lend in
            try await lend.expectRefusal(.post, "/lends", #"{"matchId":1,"lender":"Safemate"}"#, status: 404,
                                         saying: "request 1 is not in the request list")
        }
    }

    @Test func confirmingACancelledRequestIsRefused() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")
            try await lend.deliver(PaymentCancelled(matchId: 1, price: 20000, customer: "andy"), from: "payment")
            try await lend.expectRefusal(.post, "/lends", #"{"matchId":1,"lender":"Safemate"}"#, status: 409,
                                         saying: "request 1 was cancelled")
        }
    }

    @Test func confirmingAnAlreadyMatchedRequestIsRefused() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")
            _ = try await lend.post("/lends", ["matchId": 1, "lender": "Safemate"])
            try await lend.expectRefusal(.post, "/lends", #"{"matchId":1,"lender":"andy"}"#, status: 409,
                                         saying: "request 1 is already matched by Safemate")
        }
    }

    static let badConfirmations = [
        BadInput("malformed JSON", raw: #"{"matchId":"#),
        BadInput("a body that is not an object", raw: "42"),
        BadInput("no matchId", ["lender": "Safemate"], field: "matchId"),
        BadInput("a matchId that is not a number", ["matchId": "abc", "lender": "Safemate"], field: "matchId"),
        BadInput("a matchId with a fraction", ["matchId": 1.5, "lender": "Safemate"], field: "matchId"),
    ]

    @Test(arguments: badConfirmations) func aBadConfirmationIsRefused(_ bad: BadInput) async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")
            try await lend.expectRefusal(.post, "/lends", bad.body, status: bad.status, field: bad.field)
        }
    }

    @Test func theRequestListCannotBeWrittenThroughTheAPI() async throws {
        try await withService(lendService) { lend in
            try await lend.deliver(Self.paid(1), from: "payment")
            try await lend.expectRefusal(.post, "/requestLists", #"{"matchId":2}"#, status: 405)
            try await lend.expectRefusal(.patch, "/requestLists/1", #"{"status":"Matched"}"#, status: 405)
            try await lend.expectRefusal(.delete, "/requestLists/1", status: 405)
            try await lend.expectRefusal(.get, "/lends/9", status: 404)
        }
    }
}
