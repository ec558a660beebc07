import HummingbirdCore

/// The HTTP server every service, gateway and test server runs: HTTP/1.1 with, in each
/// connection's pipeline, the handlers for what a router never sees.
/// - ``MalformedRequestHandler``: a request the parser cannot read is a JSON 400, then
///   the connection closes.
/// - ``EarlyAnswerHandler``: a request answered before its body was read (a 413 for an
///   oversized body) is answered, then the connection closes after a bounded drain.
public enum HTTPEdge {
    public static var server: HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [MalformedRequestHandler(), EarlyAnswerHandler()]))
    }
}
