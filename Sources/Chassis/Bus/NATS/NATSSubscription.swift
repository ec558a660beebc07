import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The answers to one request that has several, in arrival order.
public struct NATSReplies: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    let subscription: NATSSubscription

    public func makeAsyncIterator() -> AsyncStream<NATSMessage>.AsyncIterator { subscription.makeAsyncIterator() }

    /// Stops listening for further answers; the sequence ends.
    public func finish() { subscription.unsubscribe() }
}

/// The messages of one subscription, in the order the server sent them; ends when
/// unsubscribed or the client is closed.
public struct NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    let sid: Int
    let stream: AsyncStream<NATSMessage>
    let client: NATSClient

    public func makeAsyncIterator() -> AsyncStream<NATSMessage>.AsyncIterator { stream.makeAsyncIterator() }

    public func unsubscribe() { client.unsubscribe(sid) }
}
