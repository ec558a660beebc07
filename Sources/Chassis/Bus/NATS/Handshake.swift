import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The first INFO and the first PONG of one connection.
final class Handshake: Sendable {
    let info: EventLoopPromise<Data>
    let pong: EventLoopPromise<Void>
    private let seen = Mutex((info: false, pong: false))

    init() {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        info = loop.makePromise()
        pong = loop.makePromise()
    }

    /// True when `op` completed the handshake's part, which the client must not see again.
    func take(_ op: NATSServerOp) -> Bool {
        switch op {
        case .info(let data):
            guard !seen.withLock({ seen in defer { seen.info = true }; return seen.info }) else { return false }
            info.succeed(data)
            return true
        case .pong:
            guard !seen.withLock({ seen in defer { seen.pong = true }; return seen.pong }) else { return false }
            pong.succeed(())
            return true
        case .err(let message) where !seen.withLock({ $0.pong }):
            pong.fail(NATSError.server(message))
            return false
        default:
            return false
        }
    }

    func fail(_ error: any Error) {
        info.fail(error)
        pong.fail(error)
    }
}
