import Chassis
import ChassisTesting
import RentalContracts
import RentalMyPage
import Testing

/// mypage: each customer's view of their requests, built only from events.
@Suite struct MyPageTests {
    static func requested(_ matchId: Int64, customer: String = "andy") -> ReserveRequested {
        ReserveRequested(matchId: matchId, name: "tent", price: 18000, listPrice: 20000, startDay: "20210624", endDay: "20210625",
                         customer: customer, promotional: true)
    }

    static func paid(_ matchId: Int64, customer: String = "andy") -> PaymentApproved {
        PaymentApproved(matchId: matchId, price: 18000, customer: customer, startDay: "20210624", endDay: "20210625", name: "tent")
    }

    static let matched = LendConfirmed(matchId: 4, lender: "Safemate", customer: "andy", name: "tent")

    @Test func aRequestsRowFollowsItThroughPaymentAndMatch() async throws {
        try await withService(myPageService) { mypage in
            try await mypage.deliver(Self.requested(4), from: "reserve")
            try await mypage.deliver(Self.paid(4), from: "payment")
            try await mypage.deliver(Self.matched, from: "lend")

            let row = try await mypage.get("/mypages/4")

            #expect(row.status == .ok)
            #expect(row.json["status"] == "Matched")
            #expect(row.json["history"] == ["Requested", "Paid", "Matched"])
            #expect(row.json["lender"] == "Safemate")
            #expect(row.json["price"] == 18000)
            #expect(row.json["promotional"] == true)
            #expect(row.json["_links"]?["mypage"]?["href"] == "http://localhost/mypages/4")
        }
    }

    @Test func aLateRequestFillsTheRowButNeverMovesItsStatusBack() async throws {
        try await withService(myPageService) { mypage in
            try await mypage.deliver(Self.paid(4), from: "payment")
            try await mypage.deliver(Self.matched, from: "lend")
            try await mypage.deliver(Self.requested(4), from: "reserve")

            let row = try await mypage.get("/mypages/4")

            #expect(row.json["status"] == "Matched")
            #expect(row.json["promotional"] == true, "only the request knows it was promotional")
            #expect(row.json["lender"] == "Safemate")
            #expect(row.json["history"] == ["Paid", "Matched", "Requested"])
        }
    }

    @Test func aCancellationShowsEveryCompensatingStep() async throws {
        try await withService(myPageService) { mypage in
            try await mypage.deliver(Self.requested(4), from: "reserve")
            try await mypage.deliver(Self.matched, from: "lend")
            try await mypage.deliver(ReserveCancelled(matchId: 4, customer: "andy"), from: "reserve")
            try await mypage.deliver(PaymentCancelled(matchId: 4, price: 18000, customer: "andy"), from: "payment")
            try await mypage.deliver(LendCancelled(matchId: 4, lender: "Safemate", customer: "andy"), from: "lend")

            let row = try await mypage.get("/mypages/4")

            #expect(row.json["history"] == ["Requested", "Matched", "Cancelled", "Refunded", "MatchCancelled"])
            #expect(row.json["status"] == "Cancelled", "the status says what the customer did; the refund is in the history")
        }
    }

    @Test func aVoidedPaymentLeavesNoRowEvenWhenALateConfirmationFollows() async throws {
        try await withService(myPageService) { mypage in
            try await mypage.deliver(Self.paid(4), from: "payment")
            try await mypage.deliver(PaymentVoided(matchId: 4, price: 18000, customer: "andy"), from: "payment")
            try await mypage.deliver(Self.matched, from: "lend")
            try await mypage.deliver(LendCancelled(matchId: 4, lender: "Safemate", customer: "andy"), from: "lend")

            #expect(try await mypage.get("/mypages/4").status == .notFound)
            #expect(try await mypage.get("/mypages/search/findByCustomer?customer=andy").embedded("mypages").isEmpty)
        }
    }

    @Test func aCustomersRequestsAreFoundByCustomer() async throws {
        try await withService(myPageService) { mypage in
            try await mypage.deliver(Self.requested(1), from: "reserve")
            try await mypage.deliver(Self.requested(2, customer: "bob"), from: "reserve")
            try await mypage.deliver(Self.requested(3), from: "reserve")

            let andys = try await mypage.get("/mypages/search/findByCustomer?customer=andy")
            let firstOfAll = try await mypage.get("/mypages?size=1")

            #expect(andys.status == .ok)
            #expect(andys.embedded("mypages").map { $0["matchId"] } == [1, 3])
            #expect(andys.json["_links"]?["self"]?["href"] == "http://localhost/mypages/search/findByCustomer?customer=andy")
            #expect(firstOfAll.embedded("mypages").count == 1)
            #expect(firstOfAll.json["page"]?["totalPages"] == 3)
            let searches = try await mypage.get("/mypages/search")
            #expect(searches.json["_links"]?["findByCustomer"] != nil)
            #expect(searches.json["_links"]?["findByStatus"] != nil)
        }
    }

    @Test func badQueriesAndWritesAreRefused() async throws {
        try await withService(myPageService) { mypage in
            try await mypage.deliver(Self.requested(1), from: "reserve")
            try await mypage.expectRefusal(.get, "/mypages/99", status: 404, saying: "mypage 99 does not exist")
            try await mypage.expectRefusal(.get, "/mypages/search/findByCustomer", status: 400, field: "customer")
            try await mypage.expectRefusal(.get, "/mypages/search/findByLender?lender=Safemate", status: 404)
            try await mypage.expectRefusal(.get, "/mypages?page=-1", status: 400, field: "page")
            try await mypage.expectRefusal(.get, "/mypages?size=abc", status: 400, field: "size")
            try await mypage.expectRefusal(.get, "/mypages?sort=status;drop", status: 400, field: "sort")
            try await mypage.expectRefusal(.post, "/mypages", #"{"matchId":2}"#, status: 405)
            try await mypage.expectRefusal(.patch, "/mypages/1", #"{"status":"Matched"}"#, status: 405)
            try await mypage.expectRefusal(.delete, "/mypages/1", status: 405)
        }
    }
}
