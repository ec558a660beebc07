import Foundation
import GRDB

/// The embedded ``EventBus``: one SQLite file per system, shared by its services' processes
/// on one machine.
///
/// Events are rows with a global sequence (the position) and a partition column; an index
/// on (partition, seq) makes a partition's tail a range scan. Leases, group members and
/// acknowledged positions are rows too, changed in `BEGIN IMMEDIATE` transactions, so
/// rebalancing is serializable across processes. Waiting fetches are woken by one
/// ``LogTail`` per process instead of each polling its partition. Reads run on the calling
/// thread; writes stay asynchronous, since every process of the system shares the log's
/// write lock and may wait for it.
public final class SQLiteEventLog: EventBus {
    public let partitionCount: Int
    public let path: String
    let pool: DatabasePool
    let writer = AsyncLock()
    private let tail: LogTail

    /// Opens (creating if needed) the log at `path`. `partitions` is fixed when the file is
    /// created; opening an existing log with another count uses the stored one.
    public init(path: String, partitions: Int = 8, busyTimeout: TimeInterval = 10, pollInterval: Duration = .milliseconds(5)) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        pool = try SharedDatabaseFile.open(path: path, configuration: config, migrator: Self.migrator)
        partitionCount = try pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO settings (name, value) VALUES ('partitions', ?)", arguments: [partitions])
            return try Int.fetchOne(cached: db, sql: "SELECT value FROM settings WHERE name = 'partitions'")!
        }
        tail = LogTail(pool: pool, interval: pollInterval)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("log-v1") { db in
            try db.execute(sql: """
                CREATE TABLE settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, part INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE,
                                     type TEXT NOT NULL, source TEXT NOT NULL, time INTEGER NOT NULL, key TEXT NOT NULL,
                                     traceparent TEXT, payload TEXT NOT NULL, appended_at INTEGER NOT NULL);
                CREATE INDEX events_partition ON events (part, seq);
                CREATE TABLE members (grp TEXT NOT NULL, member TEXT NOT NULL, expires_at INTEGER NOT NULL,
                                      PRIMARY KEY (grp, member)) WITHOUT ROWID;
                CREATE TABLE leases (grp TEXT NOT NULL, part INTEGER NOT NULL, member TEXT NOT NULL, expires_at INTEGER NOT NULL,
                                     PRIMARY KEY (grp, part)) WITHOUT ROWID;
                CREATE TABLE acks (grp TEXT NOT NULL, part INTEGER NOT NULL, position INTEGER NOT NULL,
                                   PRIMARY KEY (grp, part)) WITHOUT ROWID;
                """)
        }
        return migrator
    }

    public func publish(_ envelopes: [EventEnvelope]) async throws {
        guard !envelopes.isEmpty else { return }
        let partitions = partitionCount
        try await writer.withLock {
            try await pool.write { db in
                let now = Clock.millis()
                for e in envelopes {
                    try db.execute(cached: """
                        INSERT OR IGNORE INTO events (part, event_id, type, source, time, key, traceparent, payload, appended_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [e.partition(of: partitions), e.id, e.type, e.source, e.time, e.key, e.traceparent,
                                         String(decoding: e.payload, as: UTF8.self), now])
                }
            }
        }
        await tail.poke()
    }

    public func fetch(group: String, partition: Int, after position: Int64, limit: Int, wait: Duration) async throws -> [BusRecord] {
        let deadline = ContinuousClock.now + wait
        while true {
            let seen = await tail.head(of: partition)
            let records = try pool.readNow { db in
                try Row.fetchAll(cached: db, sql: """
                    SELECT seq, event_id, type, source, time, key, traceparent, payload FROM events
                    WHERE part = ? AND seq > ? ORDER BY seq LIMIT ?
                    """, arguments: [partition, position, limit]).map(Self.record)
            }
            if !records.isEmpty || ContinuousClock.now >= deadline { return records }
            try await tail.waitForChange(of: partition, from: seen, until: deadline)
        }
    }

    static func record(_ row: Row) -> BusRecord {
        BusRecord(position: row["seq"], envelope: EventEnvelope(
            id: row["event_id"], type: row["type"], source: row["source"], time: row["time"], key: row["key"],
            traceparent: row["traceparent"], payload: Data((row["payload"] as String).utf8)))
    }

    public func acknowledge(group: String, partition: Int, through position: Int64) async throws {
        try await writer.withLock {
            try await pool.write { db in
                try db.execute(cached: """
                    INSERT INTO acks (grp, part, position) VALUES (?, ?, ?)
                    ON CONFLICT (grp, part) DO UPDATE SET position = max(position, excluded.position)
                    """, arguments: [group, partition, position])
            }
        }
    }

    public func balance(group: String, member: String, ttl: Duration) async throws -> Set<Int> {
        let partitions = partitionCount
        let ttlMillis = ttl.wholeMilliseconds
        return try await writer.withLock {
            try await pool.write { db in
                let now = Clock.millis()
                try db.execute(cached: "DELETE FROM members WHERE grp = ? AND expires_at <= ?", arguments: [group, now])
                if GroupMember.slot(of: member) != nil {
                    for other in try String.fetchAll(cached: db, sql: "SELECT member FROM members WHERE grp = ?", arguments: [group]) {
                        if GroupMember.isEarlierIncarnation(other, of: member) {
                            try db.execute(cached: "DELETE FROM members WHERE grp = ? AND member = ?", arguments: [group, other])
                            try db.execute(cached: "DELETE FROM leases WHERE grp = ? AND member = ?", arguments: [group, other])
                        } else if GroupMember.isEarlierIncarnation(member, of: other) {
                            try db.execute(cached: "DELETE FROM leases WHERE grp = ? AND member = ?", arguments: [group, member])
                            return []  // superseded: a later incarnation of this slot runs
                        }
                    }
                }
                try db.execute(cached: """
                    INSERT INTO members (grp, member, expires_at) VALUES (?, ?, ?)
                    ON CONFLICT (grp, member) DO UPDATE SET expires_at = excluded.expires_at
                    """, arguments: [group, member, now + ttlMillis])
                let members = try Int.fetchOne(cached: db, sql: "SELECT count(*) FROM members WHERE grp = ?", arguments: [group]) ?? 1
                let share = (partitions + members - 1) / members
                // Leases of members that left or expired are free.
                try db.execute(cached: """
                    DELETE FROM leases WHERE grp = ? AND (expires_at <= ? OR member NOT IN (SELECT member FROM members WHERE grp = ?))
                    """, arguments: [group, now, group])
                var mine = try Int.fetchAll(cached: db, sql: "SELECT part FROM leases WHERE grp = ? AND member = ? ORDER BY part",
                                            arguments: [group, member])
                while mine.count > share, let extra = mine.popLast() {
                    try db.execute(cached: "DELETE FROM leases WHERE grp = ? AND part = ?", arguments: [group, extra])
                }
                let taken = Set(try Int.fetchAll(cached: db, sql: "SELECT part FROM leases WHERE grp = ?", arguments: [group]))
                for part in 0..<partitions where mine.count < share && !taken.contains(part) {
                    mine.append(part)
                    try db.execute(cached: "INSERT INTO leases (grp, part, member, expires_at) VALUES (?, ?, ?, 0)",
                                   arguments: [group, part, member])
                }
                try db.execute(cached: "UPDATE leases SET expires_at = ? WHERE grp = ? AND member = ?",
                               arguments: [now + ttlMillis, group, member])
                return Set(mine)
            }
        }
    }

    public func leave(group: String, member: String) async throws {
        try await writer.withLock {
            try await pool.write { db in
                try db.execute(cached: "DELETE FROM leases WHERE grp = ? AND member = ?", arguments: [group, member])
                try db.execute(cached: "DELETE FROM members WHERE grp = ? AND member = ?", arguments: [group, member])
            }
        }
    }

    public func lag(group: String) async throws -> [Int: Int64] {
        try pool.readNow { db in
            var lag: [Int: Int64] = [:]
            for row in try Row.fetchAll(cached: db, sql: """
                SELECT e.part AS part, count(*) AS behind FROM events e
                LEFT JOIN acks a ON a.grp = ? AND a.part = e.part
                WHERE e.seq > coalesce(a.position, 0) GROUP BY e.part
                """, arguments: [group]) {
                lag[row["part"]] = row["behind"]
            }
            return lag
        }
    }

    public func ping() async throws {
        _ = try pool.readNow { try Int.fetchOne(cached: $0, sql: "SELECT 1") }
    }

    /// Deletes events older than `age` that every group which ever acknowledged their
    /// partition has handled; returns how many. Groups that never acknowledged do not hold
    /// the log back, so a new consumer starts from what retention kept.
    public func prune(olderThan age: Duration) async throws -> Int {
        let cutoff = Clock.millis() - age.wholeMilliseconds
        return try await writer.withLock {
            try await pool.write { db in
                try db.execute(cached: """
                    DELETE FROM events WHERE appended_at < ?
                    AND seq <= coalesce((SELECT min(position) FROM acks WHERE acks.part = events.part), seq)
                    """, arguments: [cutoff])
                return db.changesCount
            }
        }
    }

    public func close() throws {
        try pool.close()
    }
}

/// Watches the log's partitions so waiting fetches wake when their partition grows, by an
/// append of this process (``poke()``) or of another one (the poll). One poll loop per
/// process, running only while someone waits: an indexed `max(seq)` of the whole log,
/// and only when that moved, of each partition someone waits on — so an append wakes
/// the fetches of its partition, not every consumer of every partition.
actor LogTail {
    private let pool: DatabasePool
    private let interval: Duration
    private var highest: Int64 = 0
    private var lastMove = ContinuousClock.now
    private var heads: [Int: Int64] = [:]
    private var waiters: [Int: (partition: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    private var nextWaiter = 0
    private var polling = false

    init(pool: DatabasePool, interval: Duration) {
        self.pool = pool
        self.interval = interval
    }

    func poke() async {
        await refresh()
    }

    /// The last sequence seen in `partition` (0 before it was first watched).
    func head(of partition: Int) -> Int64 { heads[partition] ?? 0 }

    /// Returns when `partition`'s last sequence differs from `seen`, or at `deadline`.
    func waitForChange(of partition: Int, from seen: Int64, until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        if head(of: partition) != seen { return }
        nextWaiter += 1
        let id = nextWaiter
        startPolling()
        let timer = LoopTimer(at: deadline) { [weak self] in Task { await self?.wake(id) } }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiters[id] = (partition, $0) }
        } onCancel: {
            Task { await self.wake(id) }
        }
        timer.cancel()
    }

    private func wake(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume()
    }

    private func refresh() async {
        guard let (latest, changed) = try? readHeads(after: highest, of: Set(waiters.values.map(\.partition))) else { return }
        if latest != highest { lastMove = .now }
        highest = latest
        for (partition, head) in changed where heads[partition] != head {
            heads[partition] = head
            for (id, waiter) in waiters where waiter.partition == partition {
                waiters.removeValue(forKey: id)
                waiter.continuation.resume()
            }
        }
    }

    /// The log's last sequence and, if it moved past `known`, the last sequence of each
    /// `watched` partition. Not one snapshot: heads only tell waiters to look again, and a
    /// fetch reads the truth.
    private func readHeads(after known: Int64, of watched: Set<Int>) throws -> (Int64, [Int: Int64]) {
        try pool.readNow { db in
            let latest = try Int64.fetchOne(cached: db, sql: "SELECT max(seq) FROM events") ?? 0
            guard latest != known else { return (latest, [:]) }
            var heads: [Int: Int64] = [:]
            for partition in watched {
                heads[partition] = try Int64.fetchOne(cached: db, sql: "SELECT max(seq) FROM events WHERE part = ?",
                                                      arguments: [partition]) ?? 0
            }
            return (latest, heads)
        }
    }

    /// Polls every `interval` while the log moved in the last second, backing off to
    /// 20 × `interval` once it stands still: an idle system costs a few reads a second
    /// per process, and a busy one sees another process's append within `interval`.
    private func startPolling() {
        guard !polling else { return }
        polling = true
        Task {
            var pause = interval
            while !waiters.isEmpty {
                try? await LoopTimer.sleep(for: pause)
                await refresh()
                pause = lastMove.duration(to: .now) < .seconds(1) ? interval : min(pause * 2, interval * 20)
            }
            polling = false
        }
    }
}
