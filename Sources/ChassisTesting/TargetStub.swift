import Chassis
import Foundation
import Hummingbird
import Synchronization

/// Stands in for the target of a gated call (payment for reserve, gift for wallet) on a
/// live port, so a test decides how it answers. It records every call and every undo it
/// was asked for.
///
/// ```swift
/// let gift = TargetStub(.approving, call: "gifts", undo: "gifts/:id/void")
/// try await withLiveServer(gift.router) { port in … "GIFT_URL": "http://127.0.0.1:\(port)" … }
/// ```
public final class TargetStub: Sendable {
    public enum Behaviour: Sendable {
        /// 201 with the request echoed (or what the stub's `answer` makes of it).
        case approving
        /// 500, as a service in trouble does.
        case failing
        /// Answers only after 5 s: past any caller's timeout.
        case hanging
        /// Approves after this pause: a slow target, not past every timeout.
        case slow(Duration)
        /// 409 with a reason: the target's verdict on the request.
        case refusing(String)
    }

    /// An undo the stub was asked for: the path's `:id` and the body.
    public struct Undo: Sendable {
        public let id: String
        public let body: JSONValue
    }

    private struct State {
        var behaviour: Behaviour
        var calls: [JSONValue] = []
        var undos: [Undo] = []
    }

    private let state: Mutex<State>
    private let callPath: String
    private let undoPath: String
    private let answer: @Sendable (JSONValue) -> JSONValue

    /// A target answering POSTs to `call` as `behaviour` says, and POSTs to `undo` (with
    /// an `:id`) with 200. An approval answers `answer(request)`: by default the request
    /// itself (marketing's stand-in answers a coupon).
    public init(_ behaviour: Behaviour, call: String, undo: String, answer: @escaping @Sendable (JSONValue) -> JSONValue = { $0 }) {
        state = Mutex(State(behaviour: behaviour))
        callPath = call
        undoPath = undo
        self.answer = answer
    }

    /// Changes how the stub answers from the next call on (the target going down or recovering).
    public func behave(_ behaviour: Behaviour) { state.withLock { $0.behaviour = behaviour } }
    public var calls: [JSONValue] { state.withLock { $0.calls } }
    public var undos: [Undo] { state.withLock { $0.undos } }

    public var router: Router<BasicRequestContext> {
        let router = Router()
        router.post(RouterPath(callPath)) { request, _ -> Response in
            let body = try await JSONResponse.body(of: request)
            let behaviour = self.state.withLock { state in
                state.calls.append(body)
                return state.behaviour
            }
            switch behaviour {
            case .approving: return try JSONResponse.make(.created, self.answer(body))
            case .failing: return Response(status: .internalServerError)
            case .hanging:
                try await Task.sleep(for: .seconds(5))
                return try JSONResponse.make(.created, self.answer(body))
            case .slow(let pause):
                try await Task.sleep(for: pause)
                return try JSONResponse.make(.created, self.answer(body))
            case .refusing(let reason): return JSONResponse.refusal(.conflict(reason))
            }
        }
        router.post(RouterPath(undoPath)) { request, context -> Response in
            let id = try context.parameters.require("id")
            let body = (try? await JSONResponse.body(of: request)) ?? .null
            self.state.withLock { $0.undos.append(Undo(id: id, body: body)) }
            return try JSONResponse.make(.ok, ["id": .string(id), "undone": true])
        }
        return router
    }
}
