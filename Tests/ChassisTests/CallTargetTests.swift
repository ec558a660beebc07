import Chassis
import ChassisTesting
import Testing

/// The callee's side of a gated call: one entity per key, retries answered with it, and
/// an undo that wins over a late call.
@Suite struct CallTargetTests {
    struct Grant: Entity, Equatable {
        static let collection = "grants"
        var id: Int64?
        var amount: Int
        var attempt: String
        var voided = false
    }

    struct Ask: Sendable {
        var key: Int64
        var amount: Int
        var attempt: String
    }

    struct Granted: DomainEvent, Equatable { var key: Int64; var correlationKey: String { String(key) } }
    struct Withdrawn: DomainEvent, Equatable { var key: Int64; var correlationKey: String { String(key) } }

    static func target(attempts: Bool, undo: CallTarget<Grant, Ask>.Undo) -> CallTarget<Grant, Ask> {
        CallTarget(named: { "grant \($0)" }, key: { $0.key }, attempt: { attempts ? $0.attempt : nil }, madeBy: { attempts ? $0.attempt : nil },
                   make: { ask in
                       guard ask.amount > 0 else { throw Refusal.invalid("amount must be positive", field: "amount") }
                       return (Grant(id: ask.key, amount: ask.amount, attempt: ask.attempt), [Granted(key: ask.key)])
                   },
                   refusing: { grant, ask in grant.attempt == ask.attempt && grant.amount == ask.amount ? nil : "grant \(grant.id!) was made otherwise" },
                   undo: undo)
    }

    func withStore(_ body: (any Store) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let store = try directory.makeSQLiteStore(service: "target")
            do { try await body(store) } catch { try? await store.close(); throw error }
            try await store.close()
        }
    }

    func events(_ store: any Store) async throws -> [String] { try await store.pendingOutbox(limit: 100).map(\.envelope.type) }

    @Test func oneEntityPerKeyARetryGetsItAndAnyOtherRequestIsRefused() async throws {
        try await withStore { store in
            let target = Self.target(attempts: true, undo: .remove)
            let made = try await target.accept(Ask(key: 1, amount: 5, attempt: "a"), in: store)
            let again = try await target.accept(Ask(key: 1, amount: 5, attempt: "a"), in: store)
            #expect(made == again && made.id == 1)
            await #expect(throws: Refusal.conflict("grant 1 was made otherwise")) {
                try await target.accept(Ask(key: 1, amount: 5, attempt: "b"), in: store)
            }
            await #expect(throws: Refusal.invalid("amount must be positive", field: "amount")) {
                try await target.accept(Ask(key: 2, amount: 0, attempt: "a"), in: store)
            }
            #expect(try await events(store) == ["Granted"])
        }
    }

    @Test func anUndoneAttemptIsTakenBackAndRefusedButAnotherAttemptMayFollow() async throws {
        try await withStore { store in
            let target = Self.target(attempts: true, undo: .remove)
            _ = try await target.accept(Ask(key: 1, amount: 5, attempt: "a"), in: store)
            try await target.void(key: 1, attempt: "a", in: store)
            try await target.void(key: 1, attempt: "a", in: store)
            #expect(try await store.get(Grant.self, id: 1) == nil)
            await #expect(throws: Refusal.conflict("attempt a of grant 1 was voided")) {
                try await target.accept(Ask(key: 1, amount: 5, attempt: "a"), in: store)
            }
            // A void that comes before its call refuses the call, and leaves another attempt's grant alone.
            let other = try await target.accept(Ask(key: 1, amount: 5, attempt: "b"), in: store)
            try await target.void(key: 1, attempt: "c", in: store)
            #expect(try await store.get(Grant.self, id: 1) == other)
            await #expect(throws: Refusal.conflict("attempt c of grant 1 was voided")) {
                try await target.accept(Ask(key: 1, amount: 5, attempt: "c"), in: store)
            }
        }
    }

    @Test func withoutAttemptsTheKeyIsVoidedForEverAndTheEntityCanBeKeptChanged() async throws {
        try await withStore { store in
            let target = Self.target(attempts: false, undo: .change { grant in
                grant.voided = true
                return [Withdrawn(key: grant.id!)]
            })
            _ = try await target.accept(Ask(key: 3, amount: 5, attempt: "x"), in: store)
            try await target.void(key: 3, in: store)
            try await target.void(key: 3, in: store)
            #expect(try await store.get(Grant.self, id: 3)?.voided == true)
            #expect(try await events(store) == ["Granted", "Withdrawn"], "voided once")
            await #expect(throws: Refusal.conflict("grant 3 was voided")) {
                try await target.accept(Ask(key: 3, amount: 5, attempt: "y"), in: store)
            }
        }
    }
}
