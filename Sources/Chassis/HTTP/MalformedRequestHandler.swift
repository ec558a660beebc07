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
/// A `CONNECT` (these services are no proxies) is answered 405 with a JSON error as
/// well, here: NIO's response encoder strips the body from any answer to a `CONNECT`, so
/// this one is written as bytes below the encoder, and the connection closes.
///
/// Sits in the channel pipeline after the HTTP codec (``HTTPEdge/server``), where parse
/// errors arrive before any router sees a request.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart


    /// After a `CONNECT` was answered: what follows is not read.
    private var refused = false

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        guard case .head(let head) = unwrapInboundIn(data), head.method == .connect else { return context.fireChannelRead(data) }
        refused = true
        let body = #"{"error":"CONNECT is not served: no service here is a proxy","status":405}"#
        let answer = "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Allow: \r\nConnection: close\r\n\r\n" + body
        // Written from the encoder's own context, the bytes go to the socket unencoded.
        guard let encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            return context.close(promise: nil)
        }
        encoder.writeAndFlush(NIOAny(ByteBuffer(string: answer))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
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
