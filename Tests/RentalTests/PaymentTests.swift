import Chassis
import ChassisTesting
import Hummingbird
import RentalContracts
import RentalPayment
import Testing

/// payment: approves once per match, voids orphans, refunds cancellations.
@Suite struct PaymentTests {
    /// What reserve sends for the seed's request of match 7.
    static let approval: JSONValue = [
        "matchId": 7, "price": 20000, "paymentAction": "Approved", "customer": "andy",
        "startDay": "20210624", "endDay": "20210624", "name": "tent",
    ]

    func approve(_ payment: ServiceRig, _ changes: JSONValue = [:]) async throws -> Reply {
        try await payment.post("/payments", Self.approval.with(changes))
    }

    @Test func anApprovalIsRecordedUnderItsMatchIdAndPublished() async throws {
        try await withService(paymentService) { payment in
            let reply = try await approve(payment)

            #expect(reply.status == .created)
            #expect(reply.headers[.location] == "http://localhost/payments/7")
            #expect(reply.json["paymentAction"] == "Approved")
            #expect(try await payment.get("/payments/7").json["price"] == 20000)
            #expect(try await payment.published(PaymentApproved.self) == [
                PaymentApproved(matchId: 7, price: 20000, customer: "andy", startDay: "20210624", endDay: "20210624", name: "tent"),
            ])
            let found = try await payment.get("/payments/search/findByMatchId?matchId=7")
            #expect(found.embedded("payments").map { $0["id"] } == [7])
        }
    }

    @Test func aRepeatedApprovalReturnsTheSamePaymentAndPublishesOnce() async throws {
        try await withService(paymentService) { payment in
            _ = try await approve(payment)
            let again = try await approve(payment)

            #expect(again.status == .created)
            #expect(again.json["price"] == 20000)
            #expect(try await payment.published(PaymentApproved.self).count == 1)
            #expect(try await payment.store.count("payments", matching: []) == 1)
        }
    }

    /// A payment forged for a match (price 1, customer mallory) cannot pass for the real
    /// request's approval later, nor the other way round: other terms are a 409.
    @Test(arguments: [["price": 1], ["customer": "mallory"], ["endDay": "20210625"], ["name": "boat"]] as [JSONValue])
    func anApprovalWithOtherTermsForAnApprovedMatchIsAConflict(_ changes: JSONValue) async throws {
        try await withService(paymentService) { payment in
            _ = try await approve(payment)
            let before = try await payment.snapshot()
            try await payment.expectRefusal(.post, "/payments", Self.approval.with(changes).text, status: 409)
            #expect(try await payment.snapshot() == before)
        }
    }

    @Test func voidingCancelsThePaymentAndRefusesALateApproval() async throws {
        try await withService(paymentService) { payment in
            _ = try await approve(payment)

            let voided = try await payment.post("/payments/7/void", [:])

            #expect(voided.status == .ok)
            #expect(voided.json == ["matchId": 7, "voided": true])
            #expect(try await payment.get("/payments/7").json["paymentAction"] == "Cancelled")
            #expect(try await payment.published(PaymentVoided.self) == [PaymentVoided(matchId: 7, price: 20000, customer: "andy")])
            #expect(try await payment.published(PaymentCancelled.self) == [], "a void is no refund")
            try await payment.expectRefusal(.post, "/payments", Self.approval.text, status: 409, saying: "voided")
        }
    }

    @Test func anApprovalArrivingAfterItsVoidIsRefused() async throws {
        try await withService(paymentService) { payment in
            #expect(try await payment.post("/payments/7/void", [:]).status == .ok)
            #expect(try await payment.publishedCount() == 0, "nothing was paid, so nothing is cancelled")
            try await payment.expectRefusal(.post, "/payments", Self.approval.text, status: 409, saying: "payment for match 7 was voided")
        }
    }

    @Test func aCancelledRequestIsRefundedOnce() async throws {
        try await withService(paymentService) { payment in
            _ = try await approve(payment)

            try await payment.deliver(ReserveCancelled(matchId: 7, customer: "andy"), from: "reserve")
            try await payment.deliver(ReserveCancelled(matchId: 7, customer: "andy"), from: "reserve")

            #expect(try await payment.get("/payments/7").json["paymentAction"] == "Cancelled")
            #expect(try await payment.published(PaymentCancelled.self) == [
                PaymentCancelled(matchId: 7, price: 20000, customer: "andy"),
            ])
        }
    }

    @Test func aCancellationOfAnUnpaidRequestChangesNothing() async throws {
        try await withService(paymentService) { payment in
            let before = try await payment.snapshot()
            try await payment.deliver(ReserveCancelled(matchId: 9, customer: "andy"), from: "reserve")
            #expect(try await payment.snapshot() == before)
        }
    }

    static let badApprovals = [
        BadInput("malformed JSON", raw: #"{"matchId":7,"#),
        BadInput("a price that is not a number", approval.with(["price": "abc"]), field: "price"),
        BadInput("a negative price", approval.with(["price": -1]), status: 422, field: "price"),
        BadInput("no matchId", approval.without("matchId"), field: "matchId"),
        BadInput("a matchId with a fraction", approval.with(["matchId": 7.5]), field: "matchId"),
        BadInput("an action other than Approved", approval.with(["paymentAction": "Cancelled"]), status: 422, field: "paymentAction"),
        BadInput("a startDay that is no calendar day", approval.with(["startDay": "20211301"]), field: "startDay"),
        BadInput("an endDay before the startDay", approval.with(["endDay": "20210623"]), status: 422, field: "endDay"),
    ]

    @Test(arguments: badApprovals) func aBadApprovalIsRefused(_ bad: BadInput) async throws {
        try await withService(paymentService) { payment in
            try await payment.expectRefusal(.post, "/payments", bad.body, status: bad.status, field: bad.field)
        }
    }

    @Test func unknownPaymentsAndForbiddenMethodsAreRefused() async throws {
        try await withService(paymentService) { payment in
            _ = try await approve(payment)
            try await payment.expectRefusal(.get, "/payments/99", status: 404, saying: "payment 99 does not exist")
            try await payment.expectRefusal(.post, "/payments/abc/void", "{}", status: 400)
            let patched = try await payment.expectRefusal(.patch, "/payments/7", #"{"paymentAction":"Cancelled"}"#, status: 405)
            #expect(patched.headers[.allow] == "GET, HEAD", "a 405 says what is allowed")
            try await payment.expectRefusal(.delete, "/payments/7", status: 405)
        }
    }

    /// Approving and voiding are reserve's calls: without the system's credential (or with
    /// another one) they are a 403 and change nothing; reading payments stays open.
    @Test func approvingAndVoidingNeedTheSystemsCredential() async throws {
        try await withService(paymentService) { payment in
            _ = try await approve(payment)
            let before = try await payment.snapshot()
            for (method, path) in [(HTTPRequest.Method.post, "/payments"), (.post, "/payments/7/void")] {
                for headers in [[:], [InternalRoute.header: "guessed"]] as [HTTPFields] {
                    var fields = headers
                    fields[.contentType] = "application/json"
                    let response = try await payment.client.execute(uri: path, method: method, headers: fields,
                                                                    body: ByteBuffer(string: Self.approval.with(["matchId": 8]).text))
                    #expect(response.status == .forbidden, "\(method) \(path) \(headers)")
                    #expect(String(buffer: response.body).contains("internal"), "a JSON error says why")
                }
            }
            #expect(try await payment.snapshot() == before)
            let read = try await payment.client.execute(uri: "/payments/7", method: .get, headers: [:], body: nil)
            #expect(read.status == .ok)
        }
    }

    /// A payment started without the system's credential fails closed and says why.
    @Test func withoutACredentialConfiguredTheInternalRoutesRefuseEveryone() async throws {
        try await withService(paymentService, environment: [InternalRoute.setting: ""]) { payment in
            let refusal = try await payment.expectRefusal(.post, "/payments", Self.approval.text, status: 403)
            #expect(refusal.error?.contains("no MSA_INTERNAL_TOKEN") == true, "\(String(describing: refusal.error))")
        }
    }

    @Test func headAnswersWhereverGetDoesWithoutABody() async throws {
        try await withService(paymentService) { payment in
            _ = try await approve(payment)
            for path in ["/payments", "/payments/7", "/payments/search/findByMatchId?matchId=7", "/actuator/health", "/actuator/health/liveness"] {
                let response = try await payment.client.execute(uri: path, method: .head, headers: [:], body: nil)
                #expect(response.status == .ok, "\(path)")
                #expect(response.body.readableBytes == 0, "\(path)")
            }
            let missing = try await payment.client.execute(uri: "/payments/99", method: .head, headers: [:], body: nil)
            #expect(missing.status == .notFound)
        }
    }
}
