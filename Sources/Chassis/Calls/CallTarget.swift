import Foundation
import Hummingbird

/// The callee's side of a ``GatedCall``: what a service that others must ask first
/// (payment approving a rental, gift issuing a gift, delivery recording a cancellation)
/// does so that the caller's guarantees hold.
///
/// ```swift
/// let gifts = CallTarget<Gift, GiftRequest>(
///     named: { "wallet \($0)" }, key: \.walletId, attempt: \.exchangeId, madeBy: \.exchangeId,
///     make: Gift.issue, refusing: { gift, _ in "wallet \(gift.walletId) was already exchanged for gift \(gift.id!)" },
///     undo: .remove)
/// Resource<Gift>(store: store).creating(GiftRequest.self) { request, store in try await gifts.accept(request, in: store) }
/// gifts.registerVoid(on: router, store: store, keyField: "walletId", attemptField: "exchangeId")   // POST /gifts/{walletId}/void
/// ```
///
/// Guarantees, each in one transaction:
/// - **One entity per key** (its id is the key: a payment per match, a gift per wallet
///   entry), made at most once. A retry of the attempt that made it gets it back; any other
///   request for the key is a 409 with `refusing`'s reason, which the caller passes on.
/// - **The undo wins over a late call.** ``void(key:attempt:in:)`` takes back what the
///   attempt made (``Undo``) and records the attempt as voided, so the call, should it
///   still arrive (it was in flight when the caller gave up), is refused with 409. Voiding
///   is idempotent, and a void that arrives before its call refuses it too.
/// - **Attempts, not keys, are voided** when requests carry an attempt id: after an undo
///   the same thing can be asked for again with a new attempt (an entry exchanged again
///   after a timed-out exchange). Without one (`attempt` nil), the key is voided for ever.
public struct CallTarget<E: Entity, Request: Sendable>: Sendable {
    /// What an undo does to the entity its attempt made.
    public enum Undo: Sendable {
        /// Deletes it: nothing was given (a gift).
        case remove
        /// Deletes it, with the events that say it was taken back (a coupon whose
        /// `CouponPublished` went out: `CouponVoided`). The key is free for another attempt.
        case withdraw(raising: @Sendable (E) -> [any DomainEvent])
        /// Keeps it, changed, with the events the change raises (a payment voided:
        /// `PaymentVoided`, so views drop what the payment put there).
        case change(@Sendable (inout E) -> [any DomainEvent])
    }

    let name: @Sendable (Int64) -> String
    let key: @Sendable (Request) -> Int64
    let attempt: @Sendable (Request) -> String?
    let madeBy: @Sendable (E) -> String?
    let make: @Sendable (Request) throws -> (E, [any DomainEvent])
    let refusing: @Sendable (_ existing: E, _ request: Request) -> String?
    let undo: Undo

    /// - Parameters:
    ///   - name: how refusals name what a key stands for ("payment for match 7").
    ///   - key: the key of a request, which is the id of the entity it makes.
    ///   - attempt: the request's attempt id, or nil when the key is the attempt.
    ///   - madeBy: the attempt id that made an entity (nil when the key is the attempt).
    ///   - make: the entity and events a first request makes, or a refusal of its terms.
    ///   - refusing: nil when `request` is a retry of the attempt that made `existing`,
    ///     else why it is refused.
    public init(named name: @escaping @Sendable (Int64) -> String, key: @escaping @Sendable (Request) -> Int64,
                attempt: @escaping @Sendable (Request) -> String? = { _ in nil }, madeBy: @escaping @Sendable (E) -> String? = { _ in nil },
                make: @escaping @Sendable (Request) throws -> (E, [any DomainEvent]),
                refusing: @escaping @Sendable (_ existing: E, _ request: Request) -> String?, undo: Undo) {
        self.name = name
        self.key = key
        self.attempt = attempt
        self.madeBy = madeBy
        self.make = make
        self.refusing = refusing
        self.undo = undo
    }

    /// The call: the entity `request` makes, or the one its attempt already made.
    public func accept(_ request: Request, in store: any Store) async throws -> E {
        let key = key(request), attempt = attempt(request)
        return try await store.write { tx in
            try await tx.prefetch([(Self.voided, key), (E.collection, key)])
            if try await voidedAttempts(key, tx).contains(attempt ?? "") {
                throw Refusal.conflict(attempt.map { "attempt \($0) of \(name(key)) was voided" } ?? "\(name(key)) was voided")
            }
            if let existing = try await tx.get(E.self, id: key) {
                if let reason = refusing(existing, request) { throw Refusal.conflict(reason) }
                return existing
            }
            var (entity, events) = try make(request)
            entity.id = key
            try await tx.save(entity)
            try await tx.publish(events)
            return entity
        }
    }

    /// The caller's undo of `attempt` (nil: of the key): takes back what it made, if it
    /// made anything, and refuses it from now on. Idempotent.
    public func void(key: Int64, attempt: String? = nil, in store: any Store) async throws {
        try await store.write { tx in
            var voided = try await voidedAttempts(key, tx)
            guard !voided.contains(attempt ?? "") else { return }
            voided.append(attempt ?? "")
            try await tx.put(Self.voided, id: key, body: JSON.encode(["attempts": voided]))
            guard var existing = try await tx.get(E.self, id: key), attempt == nil || madeBy(existing) == attempt else { return }
            switch undo {
            case .remove:
                try await tx.remove(E.self, id: key)
            case .withdraw(let raising):
                try await tx.remove(E.self, id: key)
                try await tx.publish(raising(existing))
            case .change(let change):
                let events = change(&existing)
                try await tx.save(existing)
                try await tx.publish(events)
            }
        }
    }

    /// Serves the caller's undo, `POST /<collection>/{key}/void` (declare it internal), with
    /// the attempt id in the body's `attemptField` (no body is read when the key is the
    /// attempt); answers `{keyField: key, attemptField: attempt, "voided": true}`.
    public func registerVoid<Context: RequestContext>(on router: Router<Context>, store: any Store, keyField: String, attemptField: String? = nil) {
        router.post(RouterPath("\(E.collection)/:id/void")) { request, context -> Response in
            let key = try context.parameters.require("id", as: Int64.self)
            var answer: [String: JSONValue] = [keyField: .number(Double(key)), "voided": true]
            var attempt: String?
            if let attemptField {
                guard let given = try await JSONResponse.body(of: request)[attemptField]?.stringValue, !given.isEmpty else {
                    throw Refusal.badRequest("\(attemptField) is required", field: attemptField)
                }
                attempt = given
                answer[attemptField] = .string(given)
            }
            try await void(key: key, attempt: attempt, in: store)
            return try JSONResponse.make(.ok, .object(answer))
        }
    }

    /// Where the voided attempts of a key are kept: `<collection>Voided`, by key.
    static var voided: String { "\(E.collection)Voided" }

    private func voidedAttempts(_ key: Int64, _ tx: any StoreTransaction) async throws -> [String] {
        guard let body = try await tx.document(Self.voided, id: key) else { return [] }
        return try JSON.decode([String: [String]].self, from: JSON.parse(body))["attempts"] ?? []
    }
}
