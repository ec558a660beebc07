import Foundation
import Hummingbird
import NIOCore

/// Server-Sent Events for clients that stay connected (a customer's live notifications).
public enum EventStream {
    /// Streams what `next(lastId)` returns as `id:`/`data:` events, polling the store
    /// every `interval`, with a comment heartbeat every 15 s so proxies keep the
    /// connection. Polling the committed store (not an in-memory hook) means every replica
    /// streams every item, whichever replica's consumer stored it. Ends when the client
    /// disconnects or the service shuts down.
    public static func polling(store: any Store, interval: Duration = .milliseconds(100), logger: Logger,
                               next: @escaping @Sendable (Int64) async throws -> [(Int64, String)]) -> Response {
        let body = ResponseBody { writer in
            var last: Int64 = 0
            var sinceHeartbeat = Duration.zero
            // Start from what exists now: the stream is for what happens next.
            while let batch = try? await next(last), let newest = batch.map(\.0).max() { last = newest }
            try await writer.write(ByteBuffer(string: ": connected\n\n"))
            while !Task.isCancelled {
                let items = try await next(last)
                for (id, data) in items {
                    try await writer.write(ByteBuffer(string: "id: \(id)\nevent: message\ndata: \(data)\n\n"))
                    last = max(last, id)
                }
                sinceHeartbeat += interval
                if sinceHeartbeat >= .seconds(15) {
                    try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                    sinceHeartbeat = .zero
                }
                try await LoopTimer.sleep(for: interval)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
