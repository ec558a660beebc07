import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

final class NATSInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NATSServerOp
    private weak let client: NATSClient?
    private let handshake: Handshake

    init(client: NATSClient?, handshake: Handshake) {
        self.client = client
        self.handshake = handshake
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let op = unwrapInboundIn(data)
        if handshake.take(op) { return }
        client?.handle(op, from: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(NATSError.connectionLost)
        client?.lost(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client?.logger.warning("NATS connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
