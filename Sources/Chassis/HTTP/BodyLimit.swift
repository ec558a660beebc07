import Foundation
import Hummingbird
import NIOCore

/// The largest request body a service or a gateway reads: `MSA_MAX_BODY_BYTES`, 1 MiB by
/// default (the seeds' bodies are a few hundred bytes). A larger body is answered
/// `413 {"error": "…", "status": 413}`:
/// - at once, unread, when its `Content-Length` says so (``BodyLimitMiddleware``, the
///   first thing every service and gateway router runs), so neither the gateway nor the
///   service behind it buffers it;
/// - as soon as the limit is passed, for a body sent without a length (chunked).
///
/// Read once per process from its environment: one process serves one service.
public enum BodyLimit {
    public static let bytes: Int = ProcessInfo.processInfo.environment["MSA_MAX_BODY_BYTES"].flatMap { Int($0) }.map { max($0, 1) } ?? 1 << 20

    /// The refusal for a body over the limit.
    public static var refusal: Refusal { .tooLarge("the request body is larger than \(bytes) bytes (MSA_MAX_BODY_BYTES)") }

    /// `request`'s body, or the 413 refusal once it passes the limit.
    public static func collect(_ request: Request) async throws -> ByteBuffer {
        do { return try await request.body.collect(upTo: bytes) } catch is NIOTooManyBytesError {
            throw refusal
        }
    }
}

/// Refuses with 413 a request whose `Content-Length` is over ``BodyLimit/bytes``, before
/// anything reads it.
public struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > BodyLimit.bytes {
            return JSONResponse.refusal(BodyLimit.refusal)
        }
        return try await next(request, context)
    }
}
