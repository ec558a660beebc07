import HTTPTypes
import Hummingbird

/// Answers `405 Method Not Allowed` with `Allow` to a request for a path some route
/// serves, with a method none of them does (`OPTIONS`, `TRACE`, `DELETE` on a collection
/// that cannot be deleted…). Hummingbird's router alone answers such a request 404, as if
/// the path did not exist.
///
/// Built from the router's routes once they are all registered, and added last
/// (``Router/refusingUnservedMethods()``): Hummingbird runs a middleware added after the
/// routes only for requests no route took, which are exactly the ones to look at. The
/// path is matched as the router does, the most literal pattern first (`rentals/search`
/// before `rentals/:id`). `Allow` lists HEAD wherever GET is served.
public struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let served: [(path: RouterPath, methods: [HTTPRequest.Method])]

    public init(routes: [Router<Context>.RouteDescription]) {
        var served: [(path: RouterPath, methods: [HTTPRequest.Method])] = []
        for route in routes {
            if let index = served.firstIndex(where: { $0.path == route.path }) { served[index].methods.append(route.method) } else {
                served.append((route.path, [route.method]))
            }
        }
        self.served = served.map { ($0.path, Self.ordered($0.methods)) }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do { return try await next(request, context) } catch let error as HTTPError where error.status == .notFound {
            guard let methods = methods(serving: request.uri.path), !methods.contains(request.method) else { throw error }
            let allow = methods.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.methodNotAllowed, headers: [.allow: allow],
                            message: "\(request.method.rawValue) is not allowed on \(request.uri.path); allowed: \(allow)")
        }
    }

    /// The methods of the most literal pattern that matches `path`, if any does.
    func methods(serving path: String) -> [HTTPRequest.Method]? {
        served.filter { $0.path.matches(path) }
            .max { Self.literalness($0.path).lexicographicallyPrecedes(Self.literalness($1.path)) }?.methods
    }

    /// How literal each element of a pattern is: a literal beats a partial capture, which
    /// beats a capture or `*`, which beats `**`.
    static func literalness(_ path: RouterPath) -> [Int] {
        path.components.map { element in
            switch element.description {
            case "**": 0
            case "*": 1
            case let text where text.hasPrefix("{") && text.hasSuffix("}"): 1
            case let text where text.contains("*") || text.contains("{"): 2
            default: 3
            }
        }
    }

    /// GET, HEAD (wherever GET), POST, PATCH, PUT, DELETE, then any other, alphabetically.
    static func ordered(_ methods: [HTTPRequest.Method]) -> [HTTPRequest.Method] {
        var methods = Set(methods)
        if methods.contains(.get) { methods.insert(.head) }
        let usual: [HTTPRequest.Method] = [.get, .head, .post, .patch, .put, .delete]
        return usual.filter(methods.contains) + methods.subtracting(usual).sorted { $0.rawValue < $1.rawValue }
    }
}

extension Router {
    /// Adds ``MethodNotAllowedMiddleware`` for the routes registered so far: call it once
    /// every route is.
    public func refusingUnservedMethods() {
        add(middleware: MethodNotAllowedMiddleware(routes: routes))
    }
}

extension RouterPath {
    /// Whether the router would route `path` to this pattern (`:id`, `*` and `**` as it
    /// reads them), ignoring what else it routes.
    func matches(_ path: String) -> Bool {
        func matches(_ pattern: ArraySlice<Element>, _ segments: ArraySlice<Substring>) -> Bool {
            guard let first = pattern.first else { return segments.isEmpty }
            if first.description == "**" { return true }
            guard let segment = segments.first, first ~= segment else { return false }
            return matches(pattern.dropFirst(), segments.dropFirst())
        }
        return matches(components[...], path.split(separator: "/")[...])
    }
}
