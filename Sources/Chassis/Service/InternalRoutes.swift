import Foundation
import HTTPTypes
import Hummingbird

/// A route only the system's own services may call (payment's approval and void, which
/// reserve calls), declared in the service's definition (`internalRoutes:`):
///
/// - the service answers it only to a request carrying the system's credential in
///   `X-MSA-Internal-Token`: `MSA_INTERNAL_TOKEN` (a Secret in production; every `msa up`
///   makes a fresh one), which every ``ServiceClient`` of the system's services sends.
///   Without it, or with another one: 403 JSON, nothing done. A service given no
///   credential refuses every internal request: it fails closed, and says why;
/// - the gateway never forwards it: from outside, the route does not exist (404 JSON).
public struct InternalRoute: Sendable, Equatable, CustomStringConvertible {
    public static let header = HTTPField.Name("X-MSA-Internal-Token")!
    /// The setting that holds the credential.
    public static let setting = "MSA_INTERNAL_TOKEN"

    /// The credential `environment` gives, nil when unset or empty.
    public static func token(in environment: [String: String]) -> String? {
        environment[setting].flatMap { $0.isEmpty ? nil : $0 }
    }

    public var method: HTTPRequest.Method
    /// The path as routes spell it, `:name` for a parameter: `/payments/:id/void`.
    public var path: String
    private let pattern: RouterPath

    public init(_ method: HTTPRequest.Method, _ path: String) {
        self.method = method
        self.path = path.hasPrefix("/") ? path : "/" + path
        self.pattern = RouterPath(self.path)
    }

    public static func post(_ path: String) -> InternalRoute { InternalRoute(.post, path) }
    public static func patch(_ path: String) -> InternalRoute { InternalRoute(.patch, path) }
    public static func put(_ path: String) -> InternalRoute { InternalRoute(.put, path) }
    public static func delete(_ path: String) -> InternalRoute { InternalRoute(.delete, path) }

    public var description: String { "\(method) \(path)" }

    public static func == (a: InternalRoute, b: InternalRoute) -> Bool { a.method == b.method && a.path == b.path }

    /// Whether a request for `method` on `path` is this route.
    public func matches(_ method: HTTPRequest.Method, path: String) -> Bool {
        method == self.method && pattern.matches(path)
    }
}

/// Refuses, with 403, a request for one of `routes` that does not carry `token`.
struct InternalRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: [InternalRoute]
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = routes.first(where: { $0.matches(request.method, path: request.uri.path) }) else {
            return try await next(request, context)
        }
        guard let token else {
            return JSONResponse.refusal(.forbidden("\(route) is internal, and this service has no \(InternalRoute.setting) to check callers with"))
        }
        guard let given = request.headers[InternalRoute.header], Self.same(given, token) else {
            return JSONResponse.refusal(.forbidden("\(route) is internal to the system: only its services may call it"))
        }
        return try await next(request, context)
    }

    /// Compares in time that does not depend on where the strings differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
