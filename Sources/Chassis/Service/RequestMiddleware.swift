import Foundation
import HTTPTypes
import Hummingbird

/// Gives every request an `X-Request-Id` (the caller's, or a new one), echoes it in the
/// response, and runs the handler inside the request's W3C trace context so the events it
/// raises and the calls it makes carry it on.
public struct RequestIdentityMiddleware<Context: RequestContext>: RouterMiddleware {
    public static var requestIdHeader: HTTPField.Name { HTTPField.Name("X-Request-Id")! }
    public static var traceparentHeader: HTTPField.Name { HTTPField.Name("traceparent")! }

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestId = request.headers[Self.requestIdHeader] ?? RandomID.uuid()
        let trace = TraceContext.child(of: request.headers[Self.traceparentHeader])
        var response = try await TraceContext.$current.withValue(trace) { try await next(request, context) }
        response.headers[Self.requestIdHeader] = requestId
        return response
    }
}
