import Hummingbird
import Logging
import NIOCore

/// One log line per request at `debug` — method, path, status, milliseconds — and at
/// `trace` the request's body too (its first 4 KiB): what an operator turns on to watch
/// traffic (`MSA_LOG_LEVEL=debug`, ``Logs/bootstrap(redactions:level:)``). At `info`,
/// the default, it costs a level check. A body logged whole may hold personal data: the
/// system's redactions mask it on the way out, as every line (``RedactingLogHandler``).
///
/// Every service and the gateway run it outermost but for the body limit, so it sees the
/// answer to every request, refusals included.
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let logger = context.logger
        guard logger.logLevel <= .debug else { return try await next(request, context) }
        var request = request
        var metadata: Logger.Metadata = ["method": "\(request.method)", "path": "\(request.uri)"]
        if logger.logLevel <= .trace {
            let body = try await BodyLimit.collect(request)
            request.body = RequestBody(buffer: body)
            if body.readableBytes > 0 { metadata["body"] = "\(String(decoding: body.readableBytesView.prefix(4096), as: UTF8.self))" }
        }
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metadata["status"] = "\(response.status.code)"
        metadata["ms"] = "\((ContinuousClock.now - started).wholeMilliseconds)"
        logger.log(level: logger.logLevel <= .trace ? .trace : .debug, "request", metadata: metadata)
        return response
    }
}
