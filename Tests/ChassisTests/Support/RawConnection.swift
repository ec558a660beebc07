import ChassisTesting
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A TCP connection that writes raw bytes and keeps whatever the server answers: for the
/// edges no HTTP client lets a test reach (malformed requests, bodies nobody reads).
struct RawConnection {
    let channel: any Channel
    private let collector: Collector

    static func open(port: Int) async throws -> RawConnection {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Writes `bytes` on a fresh connection and reads until the server closes it.
    static func exchange(_ bytes: [UInt8], port: Int) async throws -> String {
        let connection = try await open(port: port)
        try await connection.write(bytes)
        try await connection.waitUntilClosed(within: .seconds(10))
        return connection.received
    }

    func write(_ bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get() }

    /// Waits for the server to close the connection, or its side of it; fails after
    /// `timeout`. (Like a blocking socket, this one can go on writing once the server has
    /// closed its side: `allowRemoteHalfClosure`.)
    func waitUntilClosed(within timeout: Duration) async throws {
        try await eventually("the server closing the connection", timeout: timeout) {
            !channel.isActive || collector.inputClosed.withLock { $0 }
        }
    }

    /// Everything read so far, as text.
    var received: String { String(decoding: collector.bytes.withLock { $0 }, as: UTF8.self) }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])
        let inputClosed = Mutex(false)
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            bytes.withLock { $0 += buffer.readableBytesView }
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .inputClosed? = event as? ChannelEvent { inputClosed.withLock { $0 = true } }
            context.fireUserInboundEventTriggered(event)
        }
    }
}
