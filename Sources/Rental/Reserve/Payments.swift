import Chassis
import Foundation
import RentalContracts

/// Reserve's port to payment: the synchronous calls, through the chassis's resilient client.
struct Payments: Sendable {
    let client: ServiceClient
    let logger: Logger

    init(_ runtime: ServiceRuntime) {
        client = runtime.client(for: "payment", defaultURL: "http://127.0.0.1:8083")
        logger = runtime.logger
    }

    /// Approves the payment or throws: 503 + Retry-After when payment cannot answer.
    func approve(_ request: PaymentRequest) async throws {
        let response = try await client.post("/payments", request, idempotent: true)
        guard (200..<300).contains(response.status) else {
            throw Refusal.conflict("payment refused: \(String(decoding: response.body, as: UTF8.self))")
        }
    }

    /// Voids the payment of `matchId` and forgets the intent; on failure the intent stays
    /// for the sweeper.
    func voidQuietly(_ matchId: Int64, store: any Store) async {
        do {
            let response = try await client.send(.POST, "/payments/\(matchId)/void", json: Data("{}".utf8), idempotent: true)
            guard (200..<300).contains(response.status) else { return }
            try await store.write { tx in
                // A request that did commit keeps its payment: only void truly orphaned ones.
                try await tx.remove(PaymentIntent.collection, id: matchId)
            }
        } catch {
            logger.info("payment void deferred", metadata: ["matchId": "\(matchId)", "error": "\(error)"])
        }
    }
}
