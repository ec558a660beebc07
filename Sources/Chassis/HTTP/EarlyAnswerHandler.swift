import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Bounds what a server reads of a request it answered before reading its body: a 413
/// for a body over ``BodyLimit/bytes``, a 404 or 405 to a request that carried a body
/// nobody wanted.
///
/// Left to itself HummingbirdCore reads such a body to its end, however long: a client
/// sending a gigabyte, or sending for ever, keeps the server reading. Here, once the
/// answer is sent, the rest of the request is read and discarded for at most
/// ``drainBytes`` and ``drainTime``; then the connection closes. A client that writes its
/// whole body before reading, as most do, finds the answer waiting, and its connection
/// still usable once the body is in; one that sends for longer is cut off.
///
/// Why drain and not close at once: AsyncHTTPClient, the gateway's and the services'
/// client, fails a request whose early answer says `Connection: close` while it is still
/// sending ("I/O on closed channel" instead of the 413, seen with 9 MiB), and without
/// that header it puts the connection back in its pool, where the next request meets the
/// close (`remoteConnectionClosed`). Draining a bounded amount keeps both kinds of client
/// whole.
///
/// An answer that says `Connection: close` to a request that was read in full closes the
/// connection once it is sent, as it says.
final class EarlyAnswerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How much of a request answered early is read, and discarded, before the
    /// connection closes.
    static let drainBytes = 64 << 20
    /// How long it is read.
    static let drainTime = TimeAmount.seconds(10)

    /// A request's head has arrived and its end has not.
    private var requestOpen = false
    /// The answer being written says `Connection: close`.
    private var closeAfterAnswer = false
    /// The answer is written and the request still open: its body is discarded.
    private var draining = false
    private var drained = 0
    private var drainTimer: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head:
            requestOpen = true
        case .body(let buffer) where draining:
            drained += buffer.readableBytes
            if drained > Self.drainBytes { context.close(promise: nil) }
            return
        case .body:
            break
        case .end:
            requestOpen = false
            draining = false
            drained = 0
            drainTimer?.cancel()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closeAfterAnswer = head.headerFields[.connection]?.lowercased() == "close"
        case .body:
            break
        case .end where closeAfterAnswer:
            context.writeAndFlush(data).assumeIsolated().whenComplete { result in
                promise?.completeWith(result)
                context.close(promise: nil)
            }
            return
        case .end where requestOpen:
            draining = true
            drainTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.drainTime) { context.close(promise: nil) }
        case .end:
            break
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        drainTimer?.cancel()
        context.fireChannelInactive()
    }
}
