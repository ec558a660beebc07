import Foundation
import HTTPTypes
import HummingbirdCore
import NIOHTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// Answers a request the HTTP parser could not read (an unknown or over-long method, a
/// path that is not UTF-8, a control character in a header, a request line of 100 KB)
/// with a 400 and a JSON error, as every other error a client can receive, and closes
/// the connection, which cannot be read further. Without it HummingbirdCore answers an
/// empty 400.
///
/// Sits in the channel pipeline after the HTTP codec (``server``), where parse errors
/// arrive before any router sees a request.
public final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    public init() {}

    /// HTTP/1.1 with this handler in every connection's pipeline.
    public static var server: HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [MalformedRequestHandler()]))
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let body = (try? JSON.encode(JSONValue.object(["error": .string("malformed HTTP request: \(error)"), "status": 400])))
            ?? Data(#"{"error":"malformed HTTP request","status":400}"#.utf8)
        let head = HTTPResponse(status: .badRequest, headerFields: [
            .contentType: "application/json", .contentLength: String(body.count), .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
