import Chassis
import ChassisTesting
import Foundation
import ServiceLifecycle
import Synchronization
import Testing

/// One service's store and its system's log, plus the services a test started there;
/// ``withRig(_:partitions:_:)`` stops them however the test ends.
final class Rig: Sendable {
    static let group = "tallier"
    let store: any Store
    let log: any EventBus
    private let started = Mutex<[RunningService]>([])

    /// Where a rig's store and log live.
    enum Backend: String, Sendable, CustomStringConvertible {
        /// SQLite files in a temporary directory.
        case embedded
        /// A fresh PostgreSQL schema and a fresh JetStream stream on the test servers.
        case production
        var description: String { rawValue }
    }

    /// The embedded backend always; the production one when the test servers run.
    static var backends: [Backend] {
        TestServers.required || (TestServers.postgresURL != nil && TestServers.natsURL != nil) ? [.embedded, .production] : [.embedded]
    }

    init(store: any Store, log: any EventBus) {
        self.store = store
        self.log = log
    }

    var allPartitions: Set<Int> { Set(0..<log.partitionCount) }

    @discardableResult
    func start(_ service: some Service) -> RunningService {
        let running = service.start()
        started.withLock { $0.append(running) }
        return running
    }

    func stopAll() async {
        for running in started.withLock({ $0 }) { await running.stop() }
    }

    /// A consumer of the rig's group; several may run at once under different members.
    func consumer(_ member: String, policies: Policies = .tallying(), settings: ConsumerSettings = .brisk) -> EventConsumer {
        EventConsumer(group: Rig.group, member: member, store: store, bus: log, policies: policies,
                      settings: settings, logger: quietLogger)
    }

    /// Two keys per partition, so every partition (and so every member) gets work.
    var spreadKeys: [String] {
        (0..<log.partitionCount).flatMap { keys(in: $0, of: log.partitionCount, count: 2) }
    }

    /// Publishes `seqs` of every key straight to the log, keys interleaved, and returns the
    /// events in publish order.
    @discardableResult
    func publish(keys: [String], seqs: ClosedRange<Int>) async throws -> [SampleEvent] {
        let events = seqs.flatMap { seq in keys.map { SampleEvent(key: $0, seq: seq) } }
        try await log.publish(events.map { sampleEnvelope(key: $0.key, seq: $0.seq) })
        return events
    }

    /// Every record of the log, in position order.
    func logged() async throws -> [BusRecord] {
        var records: [BusRecord] = []
        for partition in 0..<log.partitionCount {
            records += try await log.fetch(group: "inspector", partition: partition, after: 0, limit: 100_000, wait: .zero)
        }
        return records.sorted { $0.position < $1.position }
    }

    func sightings() async throws -> [Sighting] {
        try await store.all(Sighting.self, DocumentQuery(limit: 100_000))
    }

    func tallies() async throws -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: try await store.all(Tally.self).map { ($0.key, $0.seqs) })
    }

    /// True once the group acknowledged every event in the log and `count` handlings were recorded.
    func caughtUp(handled count: Int) async throws -> Bool {
        let lag = try await log.lag(group: Rig.group)
        let handled = try await store.count(Sighting.collection, matching: [])
        return lag.values.allSatisfy { $0 == 0 } && handled == count
    }

    /// Each of `events` was handled once, and each key's events in publish order.
    func expectHandledExactlyOnce(_ events: [SampleEvent], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let seen = try await sightings().map(\.event).sorted()
        #expect(seen == events.map(\.label).sorted(), "handled events differ from published ones", sourceLocation: sourceLocation)
        let expected = Dictionary(grouping: events, by: \.key).mapValues { $0.map(\.seq) }
        #expect(try await tallies() == expected, "per-key handling order differs from publish order", sourceLocation: sourceLocation)
    }
}

func withRig<T>(_ backend: Rig.Backend = .embedded, partitions: Int = 4, _ body: (Rig) async throws -> T) async throws -> T {
    func run(_ rig: Rig) async throws -> T {
        do {
            let result = try await body(rig)
            await rig.stopAll()
            return result
        } catch {
            await rig.stopAll()
            throw error
        }
    }
    return try await withStoreAndBus(backend, service: Rig.group, partitions: partitions) { store, log in
        try await run(Rig(store: store, log: log))
    }
}

/// A service's store and its system's bus on `backend` — SQLite files in a temporary
/// directory, or a fresh PostgreSQL schema and JetStream stream — removed afterwards.
func withStoreAndBus<T>(_ backend: Rig.Backend, service: String, partitions: Int = 4,
                        _ body: (any Store, any EventBus) async throws -> T) async throws -> T {
    switch backend {
    case .embedded:
        return try await withTemporaryDirectory { directory in
            let store = try directory.makeSQLiteStore(service: service)
            do {
                let result = try await body(store, directory.makeSQLiteLog(partitions: partitions))
                try await store.close()
                return result
            } catch {
                try? await store.close()
                throw error
            }
        }
    case .production:
        return try await withPostgresStore(service: service) { store in
            try await withJetStreamBus(partitions: partitions) { bus in try await body(store, bus) }
        }
    }
}

extension ConsumerSettings {
    /// Short enough that lease hand-overs and retries happen within a test.
    static var brisk: ConsumerSettings {
        var settings = ConsumerSettings()
        settings.leaseTTL = .milliseconds(600)
        settings.maxAttempts = 3
        settings.retryBase = .milliseconds(10)
        settings.retryCap = .milliseconds(40)
        settings.fetchWait = .milliseconds(50)
        settings.batchSize = 16
        return settings
    }
}
