import Chassis
import ChassisTesting
import RentalContracts
import RentalReserve
import Testing

/// reserve when payment cannot answer: the customer is turned away with 503 + Retry-After,
/// and no request, no `ReserveRequested` and no unvoided payment remain.
extension ReserveTests {
    /// The refused request left no reserve and published no event.
    func expectNothingRequested(in reserve: ServiceRig, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await reserves(reserve) == 0, sourceLocation: sourceLocation)
        #expect(try await reserve.publishedCount() == 0, sourceLocation: sourceLocation)
    }

    /// Runs reserve's undo job until it asked payment to void `matchIds` (a payment that
    /// may have landed anyway) and, payment having confirmed, forgot the calls.
    func expectVoided(_ matchIds: [Int64], by stub: PaymentStub, in reserve: ServiceRig) async throws {
        try await eventually("payments of \(matchIds) voided and their calls forgotten") {
            try await reserve.host.undoPendingCalls()
            let pending = try await reserve.store.count("pendingCalls", matching: [])
            // A void can arrive twice on a busy machine (answered after the timeout, sent
            // again): it is idempotent, so what counts is which matches were voided.
            return Set(stub.voids) == Set(matchIds) && pending == 0
        }
    }

    /// The call never needed undoing: nothing pending, nothing voided.
    func expectNothingToUndo(by stub: PaymentStub, in reserve: ServiceRig, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await reserve.host.undoPendingCalls()
        #expect(try await reserve.store.count("pendingCalls", matching: []) == 0, sourceLocation: sourceLocation)
        #expect(stub.voids.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func paymentDownTurnsTheCustomerAwayAndLeavesNoRequest() async throws {
        let port = try await closedPort()
        let settings = ["PAYMENT_URL": "http://127.0.0.1:\(port)", "PAYMENT_TIMEOUT_MS": "200"]
        try await withService(reserveService, environment: settings) { reserve in
            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .serviceUnavailable)
            #expect(reply.headers[.retryAfter] == "1", "the breaker tries payment again within its first open period")
            #expect(reply.error == "payment is unavailable: not reachable")
            try await expectNothingRequested(in: reserve)
        }
    }

    @Test func aFailingPaymentTurnsTheCustomerAwayAndIsVoided() async throws {
        let stub = PaymentStub(paying: .failing)
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
        let stub = PaymentStub(paying: .hanging)
        try await withReserve(paying: stub, environment: ["PAYMENT_TIMEOUT_MS": "150"]) { reserve in
            let reply = try await reserve.post("/reserves", Self.seed)

            // The timeout, not payment's 5 s, ended the call (no stopwatch: it flaked at
            // 2.1 s against a 2 s bound on a busy CI machine).
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.error == "payment is unavailable: timed out after 150 ms")
            try await expectNothingRequested(in: reserve)
            try await expectVoided([1], by: stub, in: reserve)
        }
    }

    @Test func anOpenBreakerTurnsCustomersAwayWithoutCallingPaymentOrWriting() async throws {
        let stub = PaymentStub(paying: .failing)
        try await withReserve(paying: stub, environment: ["PAYMENT_BREAKER_FAILURES": "2", "PAYMENT_BREAKER_OPEN_MS": "60000"]) { reserve in
            _ = try await reserve.post("/reserves", Self.seed)
            #expect(stub.approvals.count == 2, "one attempt and one retry opened the breaker")

            let reply = try await reserve.expectRefusal(.post, "/reserves", Self.seed.text, status: 503)

            #expect(reply.error == "payment is unavailable: circuit open")
            #expect(reply.headers[.retryAfter].flatMap(Int.init) ?? 0 > 50, "the rest of the open period: \(reply.headers)")
            #expect(stub.approvals.count == 2)
        }
    }

    /// A full bulkhead refuses before anything is written: no call record, no request.
    @Test func aFullBulkheadTurnsCustomersAwayAtOnceWithoutWriting() async throws {
        let stub = PaymentStub(paying: .hanging)
        let settings = ["PAYMENT_MAX_CONCURRENT": "1", "PAYMENT_QUEUE_WAIT_MS": "0", "PAYMENT_TIMEOUT_MS": "2000", "PAYMENT_RETRIES": "0"]
        try await withReserve(paying: stub, environment: settings) { reserve in
            let first = Task { try await reserve.post("/reserves", Self.seed) }
            try await eventually("the first request waiting on payment") { stub.approvals.count == 1 }

            let refused = try await reserve.expectRefusal(.post, "/reserves", Self.seed.text, status: 503)

            // The bulkhead's refusal, not the 2 s timeout's (no stopwatch: they flake on a busy machine).
            #expect(refused.error == "payment is unavailable: too many concurrent calls")
            #expect(try await first.value.status == .serviceUnavailable)
            #expect(stub.approvals.count == 1)
        }
    }

    @Test func aPaymentRefusalIsPassedOnAndNothingIsRequested() async throws {
        let stub = PaymentStub(paying: .refusing("the card was declined"))
        try await withReserve(paying: stub) { reserve in
            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .conflict)
            #expect(reply.error == "payment refused: the card was declined", "\(reply.json)")
            try await expectNothingRequested(in: reserve)
            try await expectNothingToUndo(by: stub, in: reserve)
        }
    }

    @Test func whenPaymentRecoversTheNextRequestIsPaidUnderAFreshMatchId() async throws {
        let stub = PaymentStub(paying: .failing)
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
