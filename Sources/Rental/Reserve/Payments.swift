import Chassis
import RentalContracts

/// Reserve's port to payment (`PAYMENT_URL`, default `http://127.0.0.1:8083`): approving
/// a request's payment gates the request, and a payment whose request never committed is
/// voided — payment keeps one payment per match id, so both are idempotent.
struct Payments: Sendable {
    let approve: GatedCall<Quote>

    init(_ runtime: ServiceRuntime) {
        approve = runtime.gatedCall("approve", to: "payment", defaultURL: "http://127.0.0.1:8083",
                                    call: { quote in try .post("/payments", quote.payment) },
                                    undo: { quote in .post("/payments/\(quote.payment.matchId)/void") })
    }
}

/// A request about to be paid: what payment is asked to approve, under the new request's
/// match id, and the promotion that priced it.
struct Quote: Codable, Sendable {
    var payment: PaymentRequest
    var promotionId: Int64?
}
