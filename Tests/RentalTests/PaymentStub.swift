import Chassis
import ChassisTesting
import Foundation
import Hummingbird
import Synchronization

/// Stands in for payment so a test can decide how it answers reserve's calls. It records
/// every approval it was asked for and every match it was asked to void.
final class PaymentStub: Sendable {
    enum Behaviour: Sendable {
        /// 201 with the request echoed.
        case approving
        /// 500, as a payment service in trouble does.
        case failing
        /// Answers only after 5 s: past any caller's timeout.
        case hanging
        /// 409 with a reason: payment's verdict on the request.
        case refusing
    }

    private struct State {
        var behaviour: Behaviour
        var approvals: [JSONValue] = []
        var voids: [Int64] = []
    }

    private let state: Mutex<State>

    init(_ behaviour: Behaviour) { state = Mutex(State(behaviour: behaviour)) }

    /// Changes how the stub answers from the next call on (payment going down or recovering).
    func behave(_ behaviour: Behaviour) { state.withLock { $0.behaviour = behaviour } }
    var approvals: [JSONValue] { state.withLock { $0.approvals } }
    var voids: [Int64] { state.withLock { $0.voids } }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.post("payments") { request, _ -> Response in
            let body = try await JSONResponse.body(of: request)
            let behaviour = self.state.withLock { state in
                state.approvals.append(body)
                return state.behaviour
            }
            switch behaviour {
            case .approving: return try JSONResponse.make(.created, body)
            case .failing: return Response(status: .internalServerError)
            case .hanging:
                try await Task.sleep(for: .seconds(5))
                return try JSONResponse.make(.created, body)
            case .refusing: return JSONResponse.refusal(.conflict("the card was declined"))
            }
        }
        router.post("payments/:id/void") { _, context -> Response in
            let id = try context.parameters.require("id", as: Int64.self)
            self.state.withLock { $0.voids.append(id) }
            return try JSONResponse.make(.ok, ["matchId": .number(Double(id)), "voided": true])
        }
        return router
    }
}
