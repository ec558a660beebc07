import Foundation
import Hummingbird
import NIOCore

/// Building JSON responses and reading JSON bodies, once for every route.
public enum JSONResponse {
    public static func make(_ status: HTTPResponse.Status, _ value: JSONValue, contentType: String = "application/json",
                            headers: HTTPFields = [:]) throws -> Response {
        try make(status, data: JSON.encode(value), contentType: contentType, headers: headers)
    }

    public static func make<T: Encodable>(_ status: HTTPResponse.Status, encoding value: T, headers: HTTPFields = [:]) throws -> Response {
        try make(status, data: JSON.encode(value), contentType: "application/json", headers: headers)
    }

    public static func make(_ status: HTTPResponse.Status, data: Data, contentType: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"error": message, "field": field}` with the refusal's status (and `Retry-After`).
    public static func refusal(_ refusal: Refusal) -> Response {
        var body: [String: JSONValue] = ["error": .string(refusal.message), "status": .number(Double(refusal.status))]
        if let field = refusal.field { body["field"] = .string(field) }
        var headers: HTTPFields = [:]
        if case .unavailable(_, let seconds) = refusal { headers[.retryAfter] = String(seconds) }
        return (try? make(.init(code: refusal.status), .object(body), headers: headers))
            ?? Response(status: .init(code: refusal.status))
    }

    /// The request body as JSON; empty or malformed bodies are a 400, one over
    /// ``BodyLimit`` a 413.
    public static func body(of request: Request) async throws -> JSONValue {
        let buffer = try await BodyLimit.collect(request)
        guard buffer.readableBytes > 0 else { throw Refusal.badRequest("a JSON body is required") }
        return try JSON.parse(Data(buffer.readableBytesView))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try JSON.decode(type, from: await body(of: request))
    }
}

/// Turns every error a route throws into a JSON answer: refusals keep their status and
/// message, Hummingbird's own errors (404 no route, 405…) keep theirs, anything else is a
/// 500 whose details go to the log, not to the client.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let refusal as Refusal {
            return JSONResponse.refusal(refusal)
        } catch let error as HTTPError {
            let message = error.body ?? (error.status == .notFound ? "no route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            // Its headers too: `Allow` on a 405.
            return (try? JSONResponse.make(error.status, .object(["error": .string(message), "status": .number(Double(error.status.code))]),
                                           headers: error.headers))
                ?? Response(status: error.status, headers: error.headers)
        } catch is CancellationError {
            return JSONResponse.refusal(.unavailable("the service is shutting down", retryAfterSeconds: 1))
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return (try? JSONResponse.make(.internalServerError, .object(["error": "internal error", "status": 500])))
                ?? Response(status: .internalServerError)
        }
    }
}
