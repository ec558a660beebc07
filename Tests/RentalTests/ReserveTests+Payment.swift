import Chassis
import ChassisTesting
import RentalContracts
import RentalReserve
import Testing

/// reserve when payment cannot answer: the customer is turned away with 503 + Retry-After,
/// and no request, no `ReserveRequested` and no unvoided payment remain.
extension ReserveTests {
    /// Waits until reserve asked payment to void `matchIds` (a payment that may have landed
    /// anyway) and, payment having confirmed, forgot their intents.
    /// The refused request left no reserve and published no event.
    func expectNothingRequested(in reserve: ServiceRig, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await reserves(reserve) == 0, sourceLocation: sourceLocation)
        #expect(try await reserve.publishedCount() == 0, sourceLocation: sourceLocation)
    }

    func expectVoided(_ matchIds: [Int64], by stub: PaymentStub, in reserve: ServiceRig) async throws {
        try await eventually("payments of \(matchIds) voided and their intents forgotten") {
            let intents = try await reserve.store.count("paymentIntents", matching: [])
            return stub.voids == matchIds && intents == 0
        }
    }

    @Test func paymentDownTurnsTheCustomerAwayAndLeavesNoRequest() async throws {
        let port = try await closedPort()
        let settings = ["PAYMENT_URL": "http://127.0.0.1:\(port)", "PAYMENT_TIMEOUT_MS": "200"]
        try await withService(reserveService, environment: settings) { reserve in
            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.headers[.retryAfter] == "5")
            #expect(reply.error == "payment is unavailable: not reachable")
            try await expectNothingRequested(in: reserve)
        }
    }

    @Test func aFailingPaymentTurnsTheCustomerAwayAndIsVoided() async throws {
        let stub = PaymentStub(.failing)
        try await withReserve(paying: stub) { reserve in
            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.headers[.retryAfter] != nil)
            #expect(reply.error == "payment is unavailable: answered 500")
            try await expectNothingRequested(in: reserve)
            try await expectVoided([1], by: stub, in: reserve)
        }
    }

    @Test func aPaymentSlowerThanTheTimeoutTurnsTheCustomerAwayQuickly() async throws {
        let stub = PaymentStub(.hanging)
        try await withReserve(paying: stub, environment: ["PAYMENT_TIMEOUT_MS": "150"]) { reserve in
            let started = ContinuousClock.now
            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.error == "payment is unavailable: timed out after 150 ms")
            #expect(ContinuousClock.now - started < .seconds(2), "two attempts of 150 ms, not the 5 s payment takes")
            try await expectNothingRequested(in: reserve)
            try await expectVoided([1], by: stub, in: reserve)
        }
    }

    @Test func anOpenBreakerTurnsCustomersAwayWithoutCallingPayment() async throws {
        let stub = PaymentStub(.failing)
        try await withReserve(paying: stub, environment: ["PAYMENT_BREAKER_FAILURES": "2"]) { reserve in
            _ = try await reserve.post("/reserves", Self.seed)
            #expect(stub.approvals.count == 2, "one attempt and one retry opened the breaker")

            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.error == "payment is unavailable: circuit open")
            #expect(stub.approvals.count == 2)
            try await expectNothingRequested(in: reserve)
        }
    }

    @Test func aPaymentRefusalIsPassedOnAndNothingIsRequested() async throws {
        let stub = PaymentStub(.refusing)
        try await withReserve(paying: stub) { reserve in
            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .conflict)
            #expect(reply.error?.contains("the card was declined") == true, "\(reply.json)")
            try await expectNothingRequested(in: reserve)
            try await expectVoided([1], by: stub, in: reserve)
        }
    }

    @Test func whenPaymentRecoversTheNextRequestIsPaidUnderAFreshMatchId() async throws {
        let stub = PaymentStub(.failing)
        try await withReserve(paying: stub) { reserve in
            #expect(try await reserve.post("/reserves", Self.seed).status == .serviceUnavailable)
            try await expectVoided([1], by: stub, in: reserve)
            stub.behave(.approving)

            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .created)
            #expect(reply.json["id"] == 2, "match 1 was voided at payment, so it is never reused")
            #expect(stub.approvals.last?["matchId"] == 2)
            #expect(try await reserve.published(ReserveRequested.self).map(\.matchId) == [2])
        }
    }
}
