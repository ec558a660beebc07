import Chassis
import ChassisTesting
import Foundation
import Hummingbird
import Synchronization
import Testing

/// A gated call: the change commits only after the target said yes; a local refusal
/// costs nothing; an unknown outcome is undone by the job, even when the caller never
/// comes back; a late commit after the job took over fails.
@Suite struct GatedCallTests {
    struct Hold: Codable, Sendable, Equatable {
        var key: Int64
    }

    /// A record the gated change writes.
    struct Booking: Entity, Equatable {
        static let collection = "bookings"
        var id: Int64?
    }

    @Test(arguments: Rig.backends) func aCallTheTargetAcceptsCommitsTheChangeAndLeavesNothingPending(_ backend: Rig.Backend) async throws {
        try await withGate(backend) { gate, ledger, runtime async throws in
            let booking = try await gate.book(in: runtime.store)

            #expect(booking.id == 1)
            #expect(ledger.holds == [1])
            #expect(try await runtime.store.count("pendingCalls", matching: []) == 0)
            #expect(try await runtime.store.count("bookings", matching: []) == 1)
        }
    }

    @Test(arguments: Rig.backends) func aLocalRefusalWritesNothingAndSendsNothing(_ backend: Rig.Backend) async throws {
        try await withGate(backend, ledger: Ledger(.failing), environment: ["LEDGER_BREAKER_FAILURES": "1", "LEDGER_BREAKER_OPEN_MS": "60000"]) { gate, ledger, runtime async throws in
            await #expect(throws: Refusal.self) { try await gate.book(in: runtime.store) }
            let undo = try await runtime.store.count("pendingCalls", matching: [])
            let sent = ledger.requests

            let refusal = await #expect(throws: Refusal.self) { try await gate.book(in: runtime.store) }

            #expect(refusal?.message == "ledger is unavailable: circuit open")
            #expect(ledger.requests == sent, "nothing sent")
            #expect(try await runtime.store.count("pendingCalls", matching: []) == undo, "nothing recorded")
            #expect(try await runtime.store.count("bookings", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func aCallThatTimesOutIsUndoneByTheJob(_ backend: Rig.Backend) async throws {
        try await withGate(backend, ledger: Ledger(.hanging), environment: ["LEDGER_TIMEOUT_MS": "250", "LEDGER_RETRIES": "0"]) { gate, ledger, runtime async throws in
            let refusal = await #expect(throws: Refusal.self) { try await gate.book(in: runtime.store) }
            #expect(refusal?.status == 503)
            #expect(try await runtime.store.count("pendingCalls", matching: [FieldMatch("state", "undo")]) == 1)

            ledger.behave(.accepting)
            try await undoUntilSettled(runtime)

            // On a busy machine an undo can time out after it arrived and be sent again: it is idempotent.
            #expect(Set(ledger.releases) == [1])
            #expect(try await runtime.store.count("bookings", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func theTargetsRefusalIsPassedOnWithNothingToUndo(_ backend: Rig.Backend) async throws {
        try await withGate(backend, ledger: Ledger(.refusing)) { gate, ledger, runtime async throws in
            let refusal = await #expect(throws: Refusal.self) { try await gate.book(in: runtime.store) }

            #expect(refusal == .conflict("ledger refused: no such account"))
            #expect(try await runtime.undoPendingCalls() == 0)
            #expect(ledger.releases.isEmpty)
            #expect(try await runtime.store.count("pendingCalls", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func aChangeThatFailsAfterTheTargetAgreedIsUndone(_ backend: Rig.Backend) async throws {
        try await withGate(backend) { gate, ledger, runtime async throws in
            await #expect(throws: Refusal.conflict("the room was taken meanwhile")) {
                try await gate.call.perform(in: runtime.store) { tx in Hold(key: try await tx.nextId(Booking.collection)) } commit: { _, _, _ in
                    throw Refusal.conflict("the room was taken meanwhile")
                }
            }
            #expect(ledger.holds == [1])

            #expect(try await runtime.undoPendingCalls() == 1)
            #expect(ledger.releases == [1])
        }
    }

    /// The caller is stuck past its deadline (or crashed): the job takes the call over and
    /// undoes it, and the caller's commit, when it finally comes, fails instead of
    /// committing a change whose call was undone.
    @Test(arguments: Rig.backends) func aCallerPastItsDeadlineIsUndoneAndItsLateCommitFails(_ backend: Rig.Backend) async throws {
        try await withGate(backend, ledger: Ledger(.holding)) { gate, ledger, runtime async throws in
            let late = Task { try await gate.book(in: runtime.store) }
            try await eventually("the call reached the ledger") { ledger.holds == [1] }

            let undone = try await runtime.undoPendingCalls(asOf: Clock.millis() + 600_000)
            ledger.behave(.accepting)

            #expect(undone == 1)
            #expect(ledger.releases == [1])
            let refusal = await #expect(throws: Refusal.self) { try await late.value }
            #expect(refusal?.status == 503, "\(String(describing: refusal))")
            #expect(try await runtime.store.count("bookings", matching: []) == 0)
            #expect(try await runtime.store.count("pendingCalls", matching: []) == 0)
        }
    }

    @Test(arguments: Rig.backends) func oneCallPerKeyIsInFlightAtATime(_ backend: Rig.Backend) async throws {
        try await withGate(backend, ledger: Ledger(.holding)) { gate, ledger, runtime async throws in
            let first = Task { try await gate.book(in: runtime.store, key: "room-7") }
            try await eventually("the first call reached the ledger") { ledger.holds.count == 1 }

            await #expect(throws: Refusal.conflict("ledger.hold for room-7 is already in progress")) {
                try await gate.book(in: runtime.store, key: "room-7")
            }
            ledger.behave(.accepting)
            #expect(try await first.value.id == 1)
            #expect(ledger.holds.count == 1)
        }
    }

    @Test(arguments: Rig.backends) func anUndoIsRetriedUntilTheTargetTakesIt(_ backend: Rig.Backend) async throws {
        try await withGate(backend, ledger: Ledger(.hanging), environment: ["LEDGER_TIMEOUT_MS": "250", "LEDGER_RETRIES": "0"]) { gate, ledger, runtime async throws in
            await #expect(throws: Refusal.self) { try await gate.book(in: runtime.store) }
            ledger.behave(.failing)
            #expect(try await runtime.undoPendingCalls() == 0)
            let postponed = try #require(try await runtime.store.all(PendingRecord.self).first)
            #expect(postponed.attempts == 1 && postponed.state == "undo")

            ledger.behave(.accepting)
            #expect(try await runtime.undoPendingCalls() == 0, "not due yet: backing off")
            #expect(ledger.releases.isEmpty)
            try await undoUntilSettled(runtime)
            #expect(Set(ledger.releases) == [1])
        }
    }
}

extension GatedCallTests {
    /// A slow target is undone at the job's rate, not at its latency: the undos of one
    /// round are in flight together (the ledger answers none until all four arrived).
    @Test(arguments: Rig.backends) func theUndosOfOneRoundAreSentConcurrently(_ backend: Rig.Backend) async throws {
        let environment = ["LEDGER_TIMEOUT_MS": "15000", "LEDGER_RETRIES": "0", "LEDGER_UNDO_PER_SECOND": "100"]
        try await withGate(backend, ledger: Ledger(.failing), environment: environment) { gate, ledger, runtime async throws in
            // A 5xx is an unknown outcome: each call is queued for undoing.
            for _ in 1...4 { await #expect(throws: Refusal.self) { try await gate.book(in: runtime.store) } }
            #expect(try await runtime.store.count("pendingCalls", matching: [FieldMatch("state", "undo")]) == 4)

            ledger.behave(.accepting)
            ledger.answerReleases(together: 4)
            #expect(try await runtime.undoPendingCalls(asOf: Clock.millis() + 3_600_000) == 4)
            #expect(Set(ledger.releases) == [1, 2, 3, 4])
        }
    }
}

/// Runs the undo job (as of a time past every backoff) until nothing is pending: on a
/// busy machine one round may itself time out, and the job's next round tries again.
private func undoUntilSettled(_ runtime: ServiceRuntime) async throws {
    try await eventually("every pending call undone") {
        try await runtime.undoPendingCalls(asOf: Clock.millis() + 3_600_000)
        return try await runtime.store.count("pendingCalls", matching: []) == 0
    }
}

/// The chassis's pending-call record as a test reads it.
private struct PendingRecord: Entity {
    static let collection = "pendingCalls"
    var id: Int64?
    var state: String
    var attempts: Int
}

/// The port under test: hold a key at the ledger, release it to undo.
private struct BookingPort: Sendable {
    let call: GatedCall<GatedCallTests.Hold>

    func book(in store: any Store, key: String? = nil) async throws -> GatedCallTests.Booking {
        try await call.perform(in: store, key: key) { tx in GatedCallTests.Hold(key: try await tx.nextId(GatedCallTests.Booking.collection)) }
            commit: { hold, _, tx in try await tx.save(GatedCallTests.Booking(id: hold.key)) }
    }
}

/// A stand-in target whose answers the test decides.
final class Ledger: Sendable {
    enum Behaviour: Sendable { case accepting, failing, hanging, refusing, holding }

    private struct State {
        var behaviour: Behaviour
        var holds: [Int64] = []
        var releases: [Int64] = []
        var requests = 0
        /// When set, each release answers only once this many have arrived.
        var releasesTogether: Int?
        var releasesArrived = 0
    }

    private let state: Mutex<State>
    init(_ behaviour: Behaviour = .accepting) { state = Mutex(State(behaviour: behaviour)) }

    func behave(_ behaviour: Behaviour) { state.withLock { $0.behaviour = behaviour } }
    var holds: [Int64] { state.withLock { $0.holds } }
    var releases: [Int64] { state.withLock { $0.releases } }
    var requests: Int { state.withLock { $0.requests } }
    /// Makes each release wait (within a deadline) until `count` releases have arrived:
    /// undos sent one after another never get there.
    func answerReleases(together count: Int) { state.withLock { $0.releasesTogether = count } }
    private var behaviour: Behaviour { state.withLock { $0.behaviour } }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.post("holds") { request, _ -> Response in
            let hold = try JSON.decode(GatedCallTests.Hold.self, from: try await JSONResponse.body(of: request))
            let behaviour = self.state.withLock { state in
                state.requests += 1
                if state.behaviour != .failing { state.holds.append(hold.key) }
                return state.behaviour
            }
            switch behaviour {
            case .accepting: return try JSONResponse.make(.created, encoding: hold)
            case .failing: return Response(status: .internalServerError)
            case .refusing: return JSONResponse.refusal(.notFound("no such account"))
            case .hanging:
                try await Task.sleep(for: .seconds(5))
                return Response(status: .internalServerError)
            case .holding:
                // Answers once the test lets it (behave(.accepting)), within a deadline.
                try await eventually("the test to release the hold", timeout: .seconds(20)) { self.behaviour != .holding }
                return try JSONResponse.make(.created, encoding: hold)
            }
        }
        router.post("holds/:key/release") { _, context -> Response in
            let key = try context.parameters.require("key", as: Int64.self)
            if let together = self.state.withLock({ state in state.releasesArrived += 1; return state.releasesTogether }) {
                try await eventually("\(together) releases in flight together", timeout: .seconds(10)) {
                    self.state.withLock { $0.releasesArrived >= together }
                }
            }
            let failing = self.state.withLock { state in
                state.requests += 1
                guard state.behaviour != .failing else { return true }
                state.releases.append(key)
                return false
            }
            return failing ? Response(status: .internalServerError) : try JSONResponse.make(.ok, encoding: ["released": key])
        }
        return router
    }
}

private func withGate(_ backend: Rig.Backend, ledger: Ledger = Ledger(), environment: [String: String] = [:],
                      _ body: @Sendable (BookingPort, Ledger, ServiceRuntime) async throws -> Void) async throws {
    try await withStoreAndBus(backend, service: "booking") { store, log in
        try await withLiveServer(ledger.router) { port in
            let runtime = ServiceRuntime(name: "booking", store: store, bus: log,
                                         // A timeout no busy machine reaches, unless a test sets its own.
                                         environment: ["LEDGER_URL": "http://127.0.0.1:\(port)", "LEDGER_TIMEOUT_MS": "5000"]
                                             .merging(environment) { _, given in given },
                                         logger: quietLogger)
            let call = runtime.gatedCall("hold", to: "ledger", defaultURL: "", GatedCallTests.Hold.self,
                                         call: { hold in try .post("/holds", hold) },
                                         undo: { hold in .post("/holds/\(hold.key)/release") })
            try await body(BookingPort(call: call), ledger, runtime)
        }
    }
}
