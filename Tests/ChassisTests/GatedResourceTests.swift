import Chassis
import ChassisTesting
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import Testing

/// A resource's PATCH and DELETE gated by a call (wallet → gift, order → delivery): the
/// change commits only after the target agreed, an illegal one is refused before anything
/// is sent, and one entity has one gated change in flight at a time.
@Suite struct GatedResourceTests {
    struct Wallet: Entity, Equatable {
        static let collection = "wallets"
        var id: Int64?
        var status: String
        var note: String?
    }

    /// The wiring under test: PATCH to `Exchanged` holds the wallet at the ledger first;
    /// DELETE holds it too.
    static func wallets(_ store: any Store, _ call: GatedCall<GatedCallTests.Hold>) -> Resource<Wallet> {
        Resource<Wallet>(store: store)
            .updating(gatedBy: call) { stored, proposed in
                guard proposed.status == "Exchanged" else { return nil }
                guard stored.status != "Exchanged" else { throw Refusal.conflict("wallet \(stored.id!) is already exchanged") }
                return GatedCallTests.Hold(key: stored.id!)
            } _: { _, _, _ in [] }
            .deleting(gatedBy: call) { wallet in GatedCallTests.Hold(key: wallet.id!) }
    }

    @Test(arguments: Rig.backends) func aGatedChangeCommitsOnlyAfterTheTargetAgreed(_ backend: Rig.Backend) async throws {
        try await withWallets(backend) { api, ledger, runtime async throws in
            let store = runtime.store
            let answer = try await api.send(.PATCH, "/wallets/1", json: Data(#"{"status":"Exchanged"}"#.utf8), idempotent: false)

            #expect(answer.status == 200)
            #expect(ledger.holds == [1])
            #expect(try await store.get(Wallet.self, id: 1)?.status == "Exchanged")
            #expect(try await store.count("pendingCalls", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func aChangeNeedingNoCallIsAPlainChange(_ backend: Rig.Backend) async throws {
        try await withWallets(backend) { api, ledger, runtime async throws in
            let store = runtime.store
            let answer = try await api.send(.PATCH, "/wallets/1", json: Data(#"{"note":"birthday"}"#.utf8), idempotent: false)

            #expect(answer.status == 200)
            #expect(ledger.requests == 0)
            #expect(try await store.get(Wallet.self, id: 1)?.note == "birthday")
        }
    }

    @Test(arguments: Rig.backends) func anIllegalGatedChangeIsRefusedBeforeAnythingIsSent(_ backend: Rig.Backend) async throws {
        try await withWallets(backend, status: "Exchanged") { api, ledger, runtime async throws in
            let store = runtime.store
            let answer = try await api.send(.PATCH, "/wallets/1", json: Data(#"{"status":"Exchanged"}"#.utf8), idempotent: false)

            #expect(answer.status == 409)
            #expect(ledger.requests == 0)
            #expect(try await store.count("pendingCalls", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func aTargetThatCannotAnswerLeavesTheEntityAsItWas(_ backend: Rig.Backend) async throws {
        try await withWallets(backend, ledger: Ledger(.failing)) { api, ledger, runtime async throws in
            let store = runtime.store
            let answer = try await api.send(.PATCH, "/wallets/1", json: Data(#"{"status":"Exchanged"}"#.utf8), idempotent: false)

            #expect(answer.status == 503 && answer.retryAfter != nil)
            #expect(try await store.get(Wallet.self, id: 1)?.status == "Pending")
        }
    }

    @Test(arguments: Rig.backends) func twoConcurrentGatedChangesOfOneEntitySendOneCall(_ backend: Rig.Backend) async throws {
        try await withWallets(backend, ledger: Ledger(.holding)) { api, ledger, _ async throws in
            let exchange = Data(#"{"status":"Exchanged"}"#.utf8)
            let first = Task { try await api.send(.PATCH, "/wallets/1", json: exchange, idempotent: false) }
            try await eventually("the first exchange reached the ledger") { ledger.holds.count == 1 }

            let second = try await api.send(.PATCH, "/wallets/1", json: exchange, idempotent: false)
            ledger.behave(.accepting)

            #expect(second.status == 409)
            #expect(try await first.value.status == 200)
            #expect(ledger.holds == [1], "one call for one wallet")
            let again = try await api.send(.PATCH, "/wallets/1", json: exchange, idempotent: false)
            #expect(again.status == 409, "already exchanged")
            #expect(ledger.holds == [1])
        }
    }

    @Test(arguments: Rig.backends) func aGatedDeletionRemovesTheEntityOnlyAfterTheTargetAgreed(_ backend: Rig.Backend) async throws {
        try await withWallets(backend, ledger: Ledger(.failing)) { api, ledger, runtime async throws in
            let store = runtime.store
            #expect(try await api.send(.DELETE, "/wallets/1", idempotent: false).status == 503)
            #expect(try await store.get(Wallet.self, id: 1) != nil)

            ledger.behave(.accepting)
            let busy = try await api.send(.DELETE, "/wallets/1")
            #expect(busy.status == 503 && busy.retryAfter != nil, "the failed call is being undone meanwhile")
            try await eventually("the failed call undone and the deletion let through", timeout: .seconds(10)) {
                try await runtime.undoPendingCalls(asOf: Clock.millis() + 3_600_000)
                return try await api.send(.DELETE, "/wallets/1").status == 204
            }
            #expect(try await store.get(Wallet.self, id: 1) == nil)
            #expect(ledger.holds == [1])
        }
    }
}

/// A wallets resource on a live port, holding wallet 1 (`status`), gated by the ledger.
/// A plain HTTP client for the resource under test: every answer, 5xx included.
struct Plain: Sendable {
    let base: String

    func send(_ method: HTTPMethod, _ path: String, json: Data? = nil, idempotent: Bool = false) async throws -> (status: Int, retryAfter: String?) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers.first(name: "Retry-After"))
    }
}

private func withWallets(_ backend: Rig.Backend, ledger: Ledger = Ledger(), status: String = "Pending",
                         _ body: @Sendable (Plain, Ledger, ServiceRuntime) async throws -> Void) async throws {
    try await withStoreAndBus(backend, service: "wallet") { store, log in
        _ = try await store.write { tx in try await tx.save(GatedResourceTests.Wallet(id: 1, status: status)) }
        try await withLiveServer(ledger.router) { ledgerPort in
            let runtime = ServiceRuntime(name: "wallet", store: store, bus: log, environment: ["LEDGER_URL": "http://127.0.0.1:\(ledgerPort)", "LEDGER_TIMEOUT_MS": "5000"],
                                         logger: quietLogger)
            let call = runtime.gatedCall("hold", to: "ledger", defaultURL: "", GatedCallTests.Hold.self,
                                         call: { hold in try .post("/holds", hold) }, undo: { hold in .post("/holds/\(hold.key)/release") })
            let router = Router()
            router.add(middleware: ErrorMiddleware())
            GatedResourceTests.wallets(store, call).register(on: router)
            try await withLiveServer(router) { port in
                try await body(Plain(base: "http://127.0.0.1:\(port)"), ledger, runtime)
            }
        }
    }
}
