import Chassis
import Foundation
import NIOCore

/// JetStream's acknowledged publish rate on its own, measured beside a system's benchmark
/// as its ceiling: every event a system handles is first published like this, once.
///
/// `publishers` concurrent tasks publish 200-byte messages with a `Nats-Msg-Id` each, as
/// the outbox relays do, to a scratch stream (file storage, one replica) that is deleted
/// afterwards.
enum RawPublishBench {
    struct Result {
        var published: Int
        var duration: Duration
        var rate: Double { Double(published) / (Double(duration.wholeNanoseconds) / 1e9) }
    }

    static func run(servers: [String], publishers: Int, duration: Duration) async throws -> Result {
        let client = try await NATSClient.connect(.init(servers: servers, name: "msa-bench"))
        let jetStream = JetStream(client: client)
        let scratch = "bench\(RandomID.uuid().replacingOccurrences(of: "-", with: "").prefix(10))"
        try await jetStream.ensureStream([
            "name": .string("MSA_BENCH_\(scratch.uppercased())"), "subjects": [.string("msa-bench.\(scratch).*")],
            "storage": "file", "num_replicas": 1, "retention": "limits",
        ])
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: 200)
        let start = ContinuousClock.now
        let deadline = start + duration
        let published: Int
        do {
            published = try await withThrowingTaskGroup(of: Int.self) { group in
                for publisher in 0..<publishers {
                    group.addTask {
                        var count = 0
                        while ContinuousClock.now < deadline {
                            _ = try await jetStream.publish("msa-bench.\(scratch).\(publisher % 8)", payload: payload,
                                                            messageId: RandomID.uuid())
                            count += 1
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
        } catch {
            _ = try? await jetStream.api("STREAM.DELETE.MSA_BENCH_\(scratch.uppercased())")
            await client.close()
            throw error
        }
        let result = Result(published: published, duration: start.duration(to: .now))
        _ = try? await jetStream.api("STREAM.DELETE.MSA_BENCH_\(scratch.uppercased())")
        await client.close()
        return result
    }
}
