import Chassis
import Foundation
import Logging
import ServiceLifecycle

/// A directory of its own under `NSTemporaryDirectory()` for one test's files.
public struct TemporaryDirectory: Sendable {
    public let path: String

    /// Creates a fresh, empty directory whose name starts with `prefix`.
    public init(prefix: String = "chassis-test") throws {
        path = (NSTemporaryDirectory() as NSString)
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.lowercased())")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `name` inside this directory.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A new, empty store of `service` in this directory.
    public func makeSQLiteStore(service: String = "test") throws -> SQLiteStore {
        try SQLiteStore(path: file("\(service)-\(UUID().uuidString.prefix(8)).sqlite"), service: service)
    }

    /// A new, empty log with `partitions` partitions in this directory. It polls every
    /// millisecond so waiting fetches notice appends quickly.
    public func makeSQLiteLog(partitions: Int = 4) throws -> SQLiteEventLog {
        try SQLiteEventLog(path: file("log-\(UUID().uuidString.prefix(8)).sqlite"), partitions: partitions,
                           pollInterval: .milliseconds(1))
    }
}

/// Runs `body` with a fresh temporary directory and removes it afterwards, however
/// `body` ends.
public func withTemporaryDirectory<T>(isolation: isolated (any Actor)? = #isolation,
                                      _ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try await body(directory)
}

/// The event tests publish: the `seq`th event about `key`, so a consumer's effects show
/// both which events it handled and in which order.
public struct SampleEvent: DomainEvent, Equatable {
    public var key: String
    public var seq: Int

    public init(key: String, seq: Int) {
        self.key = key
        self.seq = seq
    }

    public var correlationKey: String { key }
    /// How the effects of handling this event name it: unique per (key, seq).
    public var label: String { "\(key)#\(seq)" }
}

/// An envelope of ``SampleEvent`` as the service `source` would publish it.
public func sampleEnvelope(key: String, seq: Int = 1, id: String = UUID().uuidString.lowercased(),
                           source: String = "test", traceparent: String? = nil) -> EventEnvelope {
    // Why `try!`: encoding a struct of a string and an int cannot fail.
    EventEnvelope(id: id, type: SampleEvent.eventType, source: source, key: key, traceparent: traceparent,
                  payload: try! JSON.encode(SampleEvent(key: key, seq: seq)))
}

/// `count` keys that all hash to `partition` of `partitions`, so a test can aim events at
/// a partition (or spread them evenly) without knowing the hash.
public func keys(in partition: Int, of partitions: Int, count: Int, prefix: String = "key") -> [String] {
    var found: [String] = []
    var i = 0
    while found.count < count {
        let key = "\(prefix)-\(i)"
        if EventEnvelope.partition(forKey: key, of: partitions) == partition { found.append(key) }
        i += 1
    }
    return found
}

/// A logger that drops everything: tests that break things on purpose would otherwise
/// flood the output with the warnings they provoke.
public let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// A service started in the background by ``ServiceLifecycle/Service/start()``.
public struct RunningService: Sendable {
    let task: Task<Void, Never>

    /// Cancels the service and returns when its `run()` has returned; stopping twice is harmless.
    /// Cancellation is the abrupt stop (a crash as far as leases are concerned), not a
    /// graceful shutdown.
    public func stop() async {
        task.cancel()
        await task.value
    }
}

extension Service {
    /// Runs the service in a new task until ``RunningService/stop()``.
    public func start() -> RunningService {
        RunningService(task: Task { try? await self.run() })
    }
}

/// Runs `body` in `lanes` concurrent tasks (customers at once); their results, in no
/// particular order.
public func concurrently<T: Sendable>(_ lanes: Int, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: T.self) { group in
        for lane in 0..<lanes { group.addTask { try await body(lane) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}
