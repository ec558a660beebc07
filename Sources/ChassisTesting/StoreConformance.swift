import Chassis
import Foundation

/// The behaviour every ``Store`` implementation must show, as cases a test target runs
/// against a fresh, empty store of that implementation:
///
/// ```swift
/// @Test(arguments: StoreConformance.cases)
/// func postgresStoreConforms(_ c: StoreConformance.Case) async throws {
///     try await c.run(makeEmptyPostgresStore())
/// }
/// ```
///
/// A case throws ``ConformanceFailure`` naming what differed. Documents and payloads are
/// compared as JSON, not bytes, so an engine may normalise what it stores; times appear
/// only as generous liveness bounds, never as speed requirements.
public struct StoreConformance {
    public struct Case: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any Store) async throws -> Void

        public init(_ name: String, run: @escaping @Sendable (any Store) async throws -> Void) {
            self.name = name
            self.run = run
        }

        public var description: String { name }
    }

    public static let cases: [Case] = [
        Case("a put document reads back, inside and outside the transaction") { try await putThenGet($0) },
        Case("nextId increases and stays above explicitly put ids") { try await nextIdIncreases($0) },
        Case("delete removes one document and reports whether it existed") { try await deleteRemoves($0) },
        Case("documents read ahead by prefetch read as they are, with the transaction's own writes") { try await prefetchReads($0) },
        Case("a filter on a string field selects equal documents") { try await filterByString($0) },
        Case("a filter given as text matches numbers and strings alike") { try await filterByNumberAsText($0) },
        Case("sorting by a field orders ascending and descending, numbers numerically") { try await sortByField($0) },
        Case("offset and limit page through documents in id order") { try await paging($0) },
        Case("afterId keeps only documents with a greater id, with filters and limit") { try await afterId($0) },
        Case("count applies the same filters as documents") { try await countWithFilters($0) },
        Case("a field name that is not an identifier is a bad request") { try await invalidFieldRefused($0) },
        Case("write commits everything its body did when it returns") { try await writeCommits($0) },
        Case("write rolls back documents, outbox, handled records, positions and dead letters when its body throws") {
            try await writeRollsBack($0)
        },
        Case("the outbox yields committed events in order until marked published") { try await outboxInOrder($0) },
        Case("recordHandled is true the first time only, across transactions") { try await recordHandledOnce($0) },
        Case("positions start at 0 and persist per group and partition") { try await positionsPersist($0) },
        Case("a claim raises the partition's epoch, which positions keep and a stale epoch's fence refuses") { try await claimsFence($0) },
        Case("parked dead letters are listed oldest first and taken once") { try await deadLetters($0) },
        Case("prune removes old published outbox rows and handled records, nothing pending") { try await prune($0) },
        Case("prune measures ages below a second exactly") { try await pruneSubSecond($0) },
        Case("concurrent writers lose no update") { try await concurrentWriters($0) },
        Case("concurrent writes that throw leave nothing behind, and the others commit") { try await concurrentFailures($0) },
        Case("ids stay distinct and ahead across concurrent writes that throw") { try await idsAcrossFailures($0) },
        Case("waitForOutbox wakes after a commit that enqueued, and times out otherwise") { try await waitForOutbox($0) },
    ]
}

// MARK: Documents

extension StoreConformance {
    static func putThenGet(_ store: any Store) async throws {
        try await store.ping()
        let first: JSONValue = ["name": "kim", "price": 20000, "tags": ["a", "b"], "note": nil]
        try await store.write { tx in
            try await tx.put("things", id: 1, body: JSON.encode(first))
            try check(try await json(tx.document("things", id: 1)) == first, "a put document is visible in its own transaction")
        }
        try check(try await json(store.document("things", id: 1)) == first, "a committed document reads back as put")
        try check(try await store.document("things", id: 2) == nil, "an id never put reads as nil")
        try check(try await store.document("others", id: 1) == nil, "collections are separate: others/1 must be nil")

        let second: JSONValue = ["name": "lee"]
        try await store.write { try await $0.put("things", id: 1, body: JSON.encode(second)) }
        try check(try await json(store.document("things", id: 1)) == second, "a second put replaces the document")
    }

    static func nextIdIncreases(_ store: any Store) async throws {
        let (a, b) = try await store.write { tx in (try await tx.nextId("things"), try await tx.nextId("things")) }
        try check(a >= 1 && b > a, "nextId gave \(a) then \(b); expected positive and increasing")
        let c = try await store.write { try await $0.nextId("things") }
        try check(c > b, "nextId in a later transaction gave \(c) after \(b)")

        try await store.write { try await $0.put("things", id: 500, body: Data(#"{"n":1}"#.utf8)) }
        let d = try await store.write { try await $0.nextId("things") }
        try check(d > 500, "nextId gave \(d) after id 500 was put explicitly")

        let e = try await store.write { tx in
            try await tx.put("things", id: 900, body: Data(#"{"n":2}"#.utf8))
            return try await tx.nextId("things")
        }
        try check(e > 900, "nextId gave \(e) after id 900 was put in the same transaction")
    }

    static func prefetchReads(_ store: any Store) async throws {
        try await store.write { tx in
            try await tx.put("things", id: 1, body: Data(#"{"n":1}"#.utf8))
            try await tx.put("things", id: 2, body: Data(#"{"n":2}"#.utf8))
        }
        try await store.write { tx in
            try await tx.put("things", id: 1, body: Data(#"{"n":10}"#.utf8))
            try await tx.prefetch([("things", 1), ("things", 2), ("things", 3), ("others", 2)])
            try check(try await json(tx.document("things", id: 1)) == ["n": 10], "a prefetched document this transaction wrote reads as written")
            try check(try await json(tx.document("things", id: 2)) == ["n": 2], "a prefetched document reads as stored")
            let (three, other) = (try await tx.document("things", id: 3), try await tx.document("others", id: 2))
            try check(three == nil && other == nil, "prefetched documents that do not exist read as nil")
            try await tx.put("things", id: 2, body: Data(#"{"n":20}"#.utf8))
            try await tx.remove("things", id: 1)
            let (two, one) = (try await json(tx.document("things", id: 2)), try await tx.document("things", id: 1))
            try check(two == ["n": 20] && one == nil, "writes after a prefetch are read back, not the prefetched bodies")
        }
        try check(try await json(store.document("things", id: 2)) == ["n": 20], "the write after the prefetch committed")
    }

    static func deleteRemoves(_ store: any Store) async throws {
        try await store.write { tx in
            try await tx.put("things", id: 1, body: Data(#"{"n":1}"#.utf8))
            try await tx.put("things", id: 2, body: Data(#"{"n":2}"#.utf8))
        }
        let removed = try await store.write { try await $0.delete("things", id: 1) }
        try check(removed, "deleting an existing document reports true")
        let again = try await store.write { try await $0.delete("things", id: 1) }
        try check(!again, "deleting a missing document reports false")
        try check(try await store.document("things", id: 1) == nil, "a deleted document reads as nil")
        try check(try await store.document("things", id: 2) != nil, "delete removes only the document addressed")
        let (inside, after) = try await store.write { tx in
            try await tx.remove("things", id: 2)
            try await tx.remove("things", id: 3)
            return (try await tx.document("things", id: 2), try await tx.delete("things", id: 2))
        }
        try check(inside == nil && !after, "a removed document is gone within its transaction")
        try check(try await store.document("things", id: 2) == nil, "remove deletes the document")
    }

    static func filterByString(_ store: any Store) async throws {
        try await seed(store, [["name": "kim", "city": "seoul"], ["name": "lee", "city": "seoul"],
                               ["name": "kim", "city": "busan"], ["name": "Kim", "city": "busan"]])
        let found = try await store.documents("things", DocumentQuery(filters: [FieldMatch("name", "kim")]))
        try check(found.map(\.id) == [1, 3], "name = kim found ids \(found.map(\.id)), expected [1, 3]")
        let both = try await store.documents("things", DocumentQuery(filters: [FieldMatch("name", "kim"), FieldMatch("city", "busan")]))
        try check(both.map(\.id) == [3], "several filters must all hold; found \(both.map(\.id)), expected [3]")
        let none = try await store.documents("things", DocumentQuery(filters: [FieldMatch("name", "park")]))
        try check(none.isEmpty, "name = park found ids \(none.map(\.id)), expected none")
    }

    static func filterByNumberAsText(_ store: any Store) async throws {
        try await seed(store, [["age": 4], ["age": 5], ["age": "4"], ["age": 40], ["age": 4.5]])
        let four = try await store.documents("things", DocumentQuery(filters: [FieldMatch("age", "4")]))
        try check(four.map(\.id) == [1, 3], "age = \"4\" found ids \(four.map(\.id)), expected [1, 3] (number 4 and string \"4\")")
        let fraction = try await store.documents("things", DocumentQuery(filters: [FieldMatch("age", "4.5")]))
        try check(fraction.map(\.id) == [5], "age = \"4.5\" found ids \(fraction.map(\.id)), expected [5]")
    }

    static func sortByField(_ store: any Store) async throws {
        try await seed(store, [["price": 100, "name": "b"], ["price": 9, "name": "c"], ["price": 10, "name": "a"]])
        let ascending = try await store.documents("things", DocumentQuery(sort: [SortKey("price")]))
        try check(ascending.map(\.id) == [2, 3, 1], "price ascending gave ids \(ascending.map(\.id)), expected [2, 3, 1] (9, 10, 100)")
        let descending = try await store.documents("things", DocumentQuery(sort: [SortKey("price", ascending: false)]))
        try check(descending.map(\.id) == [1, 3, 2], "price descending gave ids \(descending.map(\.id)), expected [1, 3, 2]")
        let byName = try await store.documents("things", DocumentQuery(sort: [SortKey("name")]))
        try check(byName.map(\.id) == [3, 1, 2], "name ascending gave ids \(byName.map(\.id)), expected [3, 1, 2]")
        let byId = try await store.documents("things", DocumentQuery(sort: [SortKey("id", ascending: false)]))
        try check(byId.map(\.id) == [3, 2, 1], "id descending gave ids \(byId.map(\.id)), expected [3, 2, 1]")
    }

    static func paging(_ store: any Store) async throws {
        try await seed(store, (1...10).map { ["n": JSONValue.number(Double($0))] })
        var pages: [[Int64]] = []
        for offset in stride(from: 0, through: 12, by: 3) {
            pages.append(try await store.documents("things", DocumentQuery(offset: offset, limit: 3)).map(\.id))
        }
        try check(pages == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10], []], "pages of 3 were \(pages)")
        let lastFirst = try await store.documents("things", DocumentQuery(sort: [SortKey("n", ascending: false)], offset: 2, limit: 2))
        try check(lastFirst.map(\.id) == [8, 7], "page 2 of 2 sorted by n descending gave \(lastFirst.map(\.id)), expected [8, 7]")
    }

    static func afterId(_ store: any Store) async throws {
        try await seed(store, (1...6).map { ["odd": .bool($0 % 2 == 1)] })
        let after = try await store.documents("things", DocumentQuery(afterId: 2))
        try check(after.map(\.id) == [3, 4, 5, 6], "afterId 2 gave \(after.map(\.id)), expected [3, 4, 5, 6]")
        let oddAfter = try await store.documents("things", DocumentQuery(filters: [FieldMatch("odd", "true")], limit: 1, afterId: 2))
        try check(oddAfter.map(\.id) == [3], "the first odd document after id 2 was \(oddAfter.map(\.id)), expected [3]")
        let none = try await store.documents("things", DocumentQuery(afterId: 6))
        try check(none.isEmpty, "afterId of the last id gave \(none.map(\.id)), expected none")
    }

    static func countWithFilters(_ store: any Store) async throws {
        try await seed(store, [["name": "kim", "age": 4], ["name": "lee", "age": 4], ["name": "kim", "age": 5]])
        let all = try await store.count("things", matching: [])
        let kims = try await store.count("things", matching: [FieldMatch("name", "kim")])
        let youngKims = try await store.count("things", matching: [FieldMatch("name", "kim"), FieldMatch("age", "4")])
        let none = try await store.count("nothing", matching: [])
        try check([all, kims, youngKims, none] == [3, 2, 1, 0],
                  "counts (all, name=kim, name=kim&age=4, empty collection) were \([all, kims, youngKims, none]), expected [3, 2, 1, 0]")
        let inside = try await store.write { try await $0.count("things", matching: [FieldMatch("age", "4")]) }
        try check(inside == 2, "count inside a transaction gave \(inside), expected 2")
    }

    static func invalidFieldRefused(_ store: any Store) async throws {
        try await seed(store, [["name": "kim"]])
        let hostile = "name') OR 1=1 --"
        try await expectBadRequest(naming: hostile, "a filter on \(hostile)") {
            _ = try await store.documents("things", DocumentQuery(filters: [FieldMatch(hostile, "x")]))
        }
        try await expectBadRequest(naming: "a.b", "a sort by a.b") {
            _ = try await store.documents("things", DocumentQuery(sort: [SortKey("a.b")]))
        }
        try await expectBadRequest(naming: "", "a count filtered by an empty field name") {
            _ = try await store.count("things", matching: [FieldMatch("", "x")])
        }
        try await expectBadRequest(naming: "$x", "a filter on $x inside a transaction") {
            try await store.write { _ = try await $0.documents("things", DocumentQuery(filters: [FieldMatch("$x", "1")])) }
        }
        try check(try await store.count("things", matching: []) == 1, "a refused query must leave the documents alone")
    }
}

// MARK: Transactions

extension StoreConformance {
    static func writeCommits(_ store: any Store) async throws {
        let event = sampleEnvelope(key: "k", traceparent: TraceContext.newTraceparent())
        let letter = DeadLetter(group: "g", partition: 1, position: 7, envelope: sampleEnvelope(key: "p"), error: "boom", attempts: 3)
        let result = try await store.write { tx in
            try await tx.put("things", id: 1, body: Data(#"{"n":1}"#.utf8))
            try await tx.enqueue([event])
            _ = try await tx.recordHandled(eventId: "e1", by: "g")
            try await tx.setPosition(group: "g", partition: 1, to: 7)
            try await tx.park(letter)
            return "done"
        }
        try check(result == "done", "write returns its body's result; got \(result)")
        try check(try await store.document("things", id: 1) != nil, "the document is visible once write returned")
        let pending = try await store.pendingOutbox(limit: 10)
        try check(pending.count == 1 && sameEnvelope(pending[0].envelope, event),
                  "the enqueued event is pending once write returned; pending: \(pending.map(\.envelope.id))")
        try check(try await store.deadLetters(limit: 10).count == 1, "the parked letter is listed once write returned")
        let (again, position) = try await store.write { tx in
            (try await tx.recordHandled(eventId: "e1", by: "g"), try await tx.position(group: "g", partition: 1))
        }
        try check(!again, "the handled record committed with the transaction")
        try check(position == 7, "the position committed with the transaction; read \(position)")
    }

    struct Abort: Error {}

    static func writeRollsBack(_ store: any Store) async throws {
        try await store.write { try await $0.put("things", id: 1, body: Data(#"{"v":1}"#.utf8)) }
        do {
            try await store.write { tx in
                try await tx.put("things", id: 1, body: Data(#"{"v":2}"#.utf8))
                try await tx.put("things", id: 2, body: Data(#"{"v":1}"#.utf8))
                try await tx.enqueue([sampleEnvelope(key: "k")])
                _ = try await tx.recordHandled(eventId: "e1", by: "g")
                try await tx.setPosition(group: "g", partition: 0, to: 5)
                try await tx.park(DeadLetter(group: "g", partition: 0, position: 5, envelope: sampleEnvelope(key: "p"),
                                             error: "boom", attempts: 1))
                throw Abort()
            }
            throw ConformanceFailure("write must rethrow the error its body threw")
        } catch is Abort {}

        try check(try await json(store.document("things", id: 1)) == ["v": 1], "a rolled-back put must not replace the document")
        try check(try await store.document("things", id: 2) == nil, "a rolled-back put must not create a document")
        try check(try await store.pendingOutbox(limit: 10).isEmpty, "a rolled-back transaction must leave no outbox entry")
        try check(try await store.outboxBacklog() == 0, "a rolled-back transaction must not count in the backlog")
        try check(try await store.deadLetters(limit: 10).isEmpty, "a rolled-back park must leave no dead letter")
        let (fresh, position) = try await store.write { tx in
            (try await tx.recordHandled(eventId: "e1", by: "g"), try await tx.position(group: "g", partition: 0))
        }
        try check(fresh, "a handled record of a rolled-back transaction must not remain")
        try check(position == 0, "a position of a rolled-back transaction must not remain; read \(position)")
    }

    static func concurrentWriters(_ store: any Store) async throws {
        let writers = 50
        try await store.write { try await $0.put("counters", id: 1, body: JSON.encode(["n": 0] as JSONValue)) }
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<writers {
                group.addTask {
                    try await store.write { tx in
                        let n = try await json(tx.document("counters", id: 1))?["n"]?.int64Value ?? -1_000
                        try await tx.put("counters", id: 1, body: JSON.encode(["n": .number(Double(n + 1))] as JSONValue))
                        return try await tx.nextId("tickets")
                    }
                }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        let n = try await json(store.document("counters", id: 1))?["n"]?.int64Value
        try check(n == Int64(writers), "\(writers) concurrent increments left the counter at \(n.map(String.init) ?? "nil")")
        try check(Set(ids).count == writers, "concurrent nextId calls handed out \(Set(ids).count) distinct ids for \(writers) writers")
    }
}

extension StoreConformance {
    /// Ids handed out in writes grouped together, some of which throw (a store may reuse
    /// a thrown write's id, or skip it): the documents that remain have distinct ids,
    /// and the next id is above them all.
    static func idsAcrossFailures(_ store: any Store) async throws {
        let writers = 40
        let kept = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for n in 0..<writers {
                group.addTask {
                    do {
                        return try await store.write { tx in
                            let id = try await tx.nextId("tickets")
                            try await tx.put("tickets", id: id, body: JSON.encode(["n": .number(Double(n))] as JSONValue))
                            if n % 3 == 1 { throw Abort() }
                            return id
                        }
                    } catch is Abort {
                        return nil
                    }
                }
            }
            return try await group.reduce(into: [Int64]()) { if let id = $1 { $0.append(id) } }
        }
        let stored = try await store.documents("tickets", DocumentQuery()).map(\.id)
        try check(Set(kept).count == kept.count && Set(stored) == Set(kept),
                  "writes that returned got ids \(kept.sorted()); the store holds \(stored.sorted())")
        let next = try await store.write { try await $0.nextId("tickets") }
        try check(next > (kept.max() ?? 0), "nextId gave \(next) after ids up to \(kept.max() ?? 0)")
    }
}

extension StoreConformance {
    /// Writers running together, as a loaded service's are: a store may run them in one
    /// database transaction (PostgreSQL's group commit), and a writer that throws must
    /// still leave nothing — whether its writes were still pending or had been sent
    /// because it read the collection it wrote to — while the others commit.
    static func concurrentFailures(_ store: any Store) async throws {
        let writers = 48
        let survived = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<writers {
                group.addTask {
                    do {
                        try await store.write { tx in
                            try await tx.put("things", id: Int64(n + 1), body: JSON.encode(["n": .number(Double(n))] as JSONValue))
                            try await tx.enqueue([sampleEnvelope(key: "k\(n)")])
                            try await tx.setPosition(group: "g", partition: n, to: Int64(n + 1))
                            _ = try await tx.recordHandled(eventId: "e\(n)", by: "g")
                            if n % 4 >= 2 {
                                let seen = try await tx.count("things", matching: [FieldMatch("n", String(n))])
                                try check(seen == 1, "writer \(n) counted \(seen) of its own documents inside its transaction")
                            }
                            if n % 4 == 1 || n % 4 == 2 { throw Abort() }
                        }
                        return (n, true)
                    } catch is Abort {
                        return (n, false)
                    }
                }
            }
            return try await group.reduce(into: Set<Int>()) { if $1.1 { $0.insert($1.0) } }
        }
        let expected = Set((0..<writers).filter { $0 % 4 == 0 || $0 % 4 == 3 })
        try check(survived == expected, "writers that returned: \(survived.sorted()), expected \(expected.sorted())")
        let ids = try await store.documents("things", DocumentQuery()).map { Int($0.id) - 1 }
        try check(Set(ids) == expected, "documents left: \(ids.sorted()), expected those of \(expected.sorted())")
        let keys = try await store.pendingOutbox(limit: 100).map(\.envelope.key)
        try check(Set(keys) == Set(expected.map { "k\($0)" }) && keys.count == expected.count,
                  "outbox holds \(keys.sorted()), expected one event of each writer that returned")
        let (positions, handled) = try await store.write { tx in
            var positions: [Int: Int64] = [:]
            var handled: Set<Int> = []
            for n in 0..<writers {
                positions[n] = try await tx.position(group: "g", partition: n)
                if try await !tx.recordHandled(eventId: "e\(n)", by: "g") { handled.insert(n) }
            }
            return (positions, handled)
        }
        try check(positions.filter { $0.value != 0 }.keys.sorted() == expected.sorted(),
                  "positions were set for \(positions.filter { $0.value != 0 }.keys.sorted()), expected \(expected.sorted())")
        try check(handled == expected, "events recorded as handled by \(handled.sorted()), expected \(expected.sorted())")
    }
}

// MARK: Outbox, handled events, positions, dead letters

extension StoreConformance {
    static func outboxInOrder(_ store: any Store) async throws {
        let events = ["a", "b", "c"].map { sampleEnvelope(key: $0, traceparent: TraceContext.newTraceparent()) }
        try await store.write { try await $0.enqueue(Array(events[0...1])) }
        try await store.write { try await $0.enqueue([events[2]]) }

        let pending = try await store.pendingOutbox(limit: 10)
        try check(pending.count == 3 && zip(pending, events).allSatisfy { sameEnvelope($0.envelope, $1) },
                  "pending outbox is \(pending.map(\.envelope.key)), expected [a, b, c] with their envelopes intact")
        try check(zip(pending, pending.dropFirst()).allSatisfy { $0.sequence < $1.sequence },
                  "outbox sequences must increase in commit order: \(pending.map(\.sequence))")
        try check(try await store.pendingOutbox(limit: 1).map(\.envelope.id) == [events[0].id], "pendingOutbox honours its limit, oldest first")
        try check(try await store.outboxBacklog() == 3, "backlog counts the three committed events")

        try await store.markPublished(pending.prefix(2).map(\.sequence))
        let rest = try await store.pendingOutbox(limit: 10)
        try check(rest.map(\.envelope.id) == [events[2].id], "after marking a and b published, pending is \(rest.map(\.envelope.key))")
        try check(try await store.outboxBacklog() == 1, "backlog counts only the unpublished event")
        try await store.markPublished([])
        try check(try await store.outboxBacklog() == 1, "marking nothing published changes nothing")

        // The relay's step: mark, then read what is still pending, in one call.
        let more = sampleEnvelope(key: "d")
        try await store.write { try await $0.enqueue([more]) }
        let next = try await store.markPublished(rest.map(\.sequence), thenPending: 10)
        try check(next.map(\.envelope.id) == [more.id], "after marking c published in the step, pending is \(next.map(\.envelope.key))")
        try check(try await store.outboxBacklog() == 1, "the step marked c published")
        try check(try await store.markPublished([], thenPending: 10).map(\.envelope.id) == [more.id], "a step marking nothing reads the outbox")
        let none = try await store.markPublished(next.map(\.sequence), thenPending: 10)
        try check(none.isEmpty, "marking the last entry leaves nothing pending")
        try check(try await store.outboxBacklog() == 0, "the backlog is empty once every entry is marked")
    }

    static func recordHandledOnce(_ store: any Store) async throws {
        let (first, second) = try await store.write { tx in
            (try await tx.recordHandled(eventId: "e1", by: "g"), try await tx.recordHandled(eventId: "e1", by: "g"))
        }
        try check(first && !second, "recordHandled in one transaction gave \(first), \(second); expected true, false")
        let (later, otherGroup, otherEvent) = try await store.write { tx in
            (try await tx.recordHandled(eventId: "e1", by: "g"),
             try await tx.recordHandled(eventId: "e1", by: "h"),
             try await tx.recordHandled(eventId: "e2", by: "g"))
        }
        try check(!later, "an event handled in an earlier transaction must be reported as already handled")
        try check(otherGroup, "handled records are per consumer: group h has not handled e1")
        try check(otherEvent, "handled records are per event: g has not handled e2")
        let (batch, single, again) = try await store.write { tx in
            (try await tx.recordHandled(eventIds: ["e1", "e3", "e3", "e4"], by: "g"),
             try await tx.recordHandled(eventId: "e4", by: "g"),
             try await tx.recordHandled(eventIds: ["e3", "e5"], by: "g"))
        }
        try check(batch == ["e3", "e4"], "recordHandled of a batch gave \(batch.sorted()), expected the new ones: e3, e4")
        try check(!single && again == ["e5"], "a batch's records count for later calls in its transaction")
        try check(try await store.write { try await $0.recordHandled(eventIds: ["e4", "e5", "e6"], by: "g") } == ["e6"],
                  "a batch's records commit with the transaction")
    }

    static func positionsPersist(_ store: any Store) async throws {
        let initial = try await store.write { try await $0.position(group: "g", partition: 0) }
        try check(initial == 0, "a position never set reads \(initial), expected 0")
        try await store.write { tx in
            try await tx.setPosition(group: "g", partition: 0, to: 5)
            try await tx.setPosition(group: "g", partition: 1, to: 7)
        }
        try await store.write { try await $0.setPosition(group: "g", partition: 0, to: 9) }
        let read = try await store.write { tx in
            [try await tx.position(group: "g", partition: 0), try await tx.position(group: "g", partition: 1),
             try await tx.position(group: "h", partition: 0)]
        }
        try check(read == [9, 7, 0], "positions (g/0, g/1, h/0) read \(read), expected [9, 7, 0]")
    }

    static func claimsFence(_ store: any Store) async throws {
        let before = try await store.write { try await $0.epoch(group: "g", partition: 0) }
        try check(before == 0, "an unclaimed partition's epoch reads \(before), expected 0")
        try await store.write { try await $0.setPosition(group: "g", partition: 0, to: 4) }
        let first = try await store.write { try await $0.claim(group: "g", partition: 0) }
        let (second, position) = try await store.write { tx in
            (try await tx.claim(group: "g", partition: 0), try await tx.position(group: "g", partition: 0))
        }
        try check(first == 1 && second == 2, "claims returned \(first), \(second), expected 1, 2")
        try check(position == 4, "a claim keeps the position; read \(position)")
        try await store.write { tx in
            try await tx.fence(group: "g", partition: 0, epoch: 2)
            try await tx.setPosition(group: "g", partition: 0, to: 6)
        }
        let other = try await store.write { try await $0.claim(group: "g", partition: 1) }
        try check(other == 1, "partitions are claimed apart; g/1 read \(other)")
        do {
            try await store.write { tx in
                try await tx.fence(group: "g", partition: 0, epoch: 1)
                try await tx.setPosition(group: "g", partition: 0, to: 99)
            }
            throw ConformanceFailure("a fence with a superseded epoch let its transaction commit")
        } catch let fenced as PartitionFenced {
            try check(fenced.current == 2 && fenced.epoch == 1, "the refusal names the epochs: \(fenced)")
        }
        let (epoch, kept) = try await store.write { tx in
            (try await tx.epoch(group: "g", partition: 0), try await tx.position(group: "g", partition: 0))
        }
        try check(epoch == 2 && kept == 6, "epoch \(epoch) and position \(kept) after the fenced write, expected 2 and 6")
        // A rolled-back claim leaves no trace either.
        do {
            try await store.write { tx in
                _ = try await tx.claim(group: "g", partition: 0)
                throw ConformanceFailure("rolled back")
            }
        } catch is ConformanceFailure {}
        let after = try await store.write { try await $0.epoch(group: "g", partition: 0) }
        try check(after == 2, "a claim in a rolled-back transaction must not remain; epoch reads \(after)")
    }

    static func deadLetters(_ store: any Store) async throws {
        let first = DeadLetter(group: "g", partition: 2, position: 11, envelope: sampleEnvelope(key: "a"), error: "boom", attempts: 5)
        let second = DeadLetter(group: "g", partition: 3, position: 12, envelope: sampleEnvelope(key: "b"), error: "bang", attempts: 2)
        try await store.write { try await $0.park(first) }
        try await store.write { try await $0.park(second) }

        let listed = try await store.deadLetters(limit: 10)
        try check(listed.count == 2, "two parked letters listed as \(listed.count)")
        try check(sameLetter(listed[0], first) && sameLetter(listed[1], second), "dead letters must list oldest first, fields intact")
        guard let id = listed[0].id, let otherId = listed[1].id, id != otherId else {
            throw ConformanceFailure("parked letters need distinct ids; got \(listed.map(\.id))")
        }
        try check(try await store.deadLetters(limit: 1).map(\.id) == [id], "deadLetters honours its limit")

        do {
            try await store.write { tx in
                _ = try await tx.takeDeadLetter(id: id)
                throw Abort()
            }
        } catch is Abort {}
        try check(try await store.deadLetters(limit: 10).count == 2, "a take in a rolled-back transaction leaves the letter parked")

        let taken = try await store.write { try await $0.takeDeadLetter(id: id) }
        try check(taken.map { sameLetter($0, first) } == true, "takeDeadLetter returns the letter it removes")
        try check(try await store.deadLetters(limit: 10).map(\.id) == [otherId], "a taken letter is no longer listed")
        let again = try await store.write { try await $0.takeDeadLetter(id: id) }
        try check(again == nil, "a letter can be taken only once")
    }
}

// MARK: Retention and liveness

extension StoreConformance {
    static func prune(_ store: any Store) async throws {
        let events = [sampleEnvelope(key: "a"), sampleEnvelope(key: "b")]
        try await store.write { tx in
            try await tx.enqueue(events)
            _ = try await tx.recordHandled(eventId: "e1", by: "g")
        }
        let first = try await store.pendingOutbox(limit: 10)[0]
        try await store.markPublished([first.sequence])

        let young = try await store.prune(olderThan: .seconds(3600))
        try check(young == PruneReport(outbox: 0, handled: 0), "pruning rows older than an hour removed \(young)")

        // Rows are stamped with the clock: let it move past their time so age zero covers them.
        try await Task.sleep(for: .milliseconds(20))
        let report = try await store.prune(olderThan: .zero)
        try check(report == PruneReport(outbox: 1, handled: 1), "prune(olderThan: .zero) removed \(report), expected 1 outbox row and 1 handled record")
        try check(try await store.pendingOutbox(limit: 10).map(\.envelope.id) == [events[1].id], "prune must keep unpublished outbox rows")
        try check(try await store.outboxBacklog() == 1, "the unpublished event still counts in the backlog")
        let forgotten = try await store.write { try await $0.recordHandled(eventId: "e1", by: "g") }
        try check(forgotten, "a pruned handled record no longer deduplicates")
    }

    // The suites and `eventually` sleep with `Task.sleep`, not `LoopTimer`: in a test
    // process NIO's loops are shared with the code under test, and a loop kept busy there
    // delays a loop timer (seen in CI: this case's 20 ms sleep lasted over 900 ms).
    //
    // An age truncated to whole seconds would make 999 ms zero and remove the record. The
    // verdict holds only if the record really is younger than that when pruned: the
    // parallel suites on two cores have stalled this sequence past 900 ms, so a slower
    // round is measured again rather than judged.
    static func pruneSubSecond(_ store: any Store) async throws {
        for round in 1...3 {
            let written = ContinuousClock.now
            try await store.write { _ = try await $0.recordHandled(eventId: "e\(round)", by: "g") }
            try await Task.sleep(for: .milliseconds(20))
            let report = try await store.prune(olderThan: .milliseconds(999))
            let age = ContinuousClock.now - written
            guard age < .milliseconds(900) else { continue }
            // Recording it again is refused while the record is still there.
            let recordedAgain = try await store.write { try await $0.recordHandled(eventId: "e\(round)", by: "g") }
            try check(!recordedAgain, "prune(olderThan: 999 ms) removed \(report), the record \(age) old among them")
            return
        }
        throw ConformanceFailure("three rounds took over 900 ms each: the machine is too busy to judge sub-second ages")
    }

    static func waitForOutbox(_ store: any Store) async throws {
        let idle = ContinuousClock.now
        await store.waitForOutbox(timeout: .milliseconds(50))
        try check(ContinuousClock.now - idle < .seconds(2), "waitForOutbox with nothing committed must return after its timeout")

        let waiter = Task {
            await store.waitForOutbox(timeout: .seconds(20))
            return ContinuousClock.now
        }
        try await Task.sleep(for: .milliseconds(20))  // Let the waiter start waiting; correct either way.
        try await store.write { try await $0.enqueue([sampleEnvelope(key: "k")]) }
        let committed = ContinuousClock.now
        let woke = await waiter.value
        try check(woke - committed < .seconds(2), "waitForOutbox returned \(woke - committed) after the commit; expected promptly")
    }
}

// MARK: Helpers

extension StoreConformance {
    /// Puts `bodies` as documents 1, 2, … of `things`.
    static func seed(_ store: any Store, _ bodies: [JSONValue]) async throws {
        try await store.write { tx in
            for (index, body) in bodies.enumerated() {
                try await tx.put("things", id: Int64(index + 1), body: JSON.encode(body))
            }
        }
    }

    static func expectBadRequest(naming field: String, _ what: String,
                                 file: StaticString = #filePath, line: UInt = #line,
                                 _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let refusal as Refusal {
            guard case .badRequest = refusal else {
                throw ConformanceFailure("\(what) was refused as \(refusal), expected a bad request", file: file, line: line)
            }
            try check(refusal.field == field || refusal.message.contains(field),
                      "\(what) was refused with \"\(refusal.message)\", which does not name the field", file: file, line: line)
            return
        }
        throw ConformanceFailure("\(what) was accepted; expected Refusal.badRequest", file: file, line: line)
    }
}

/// `data` parsed as JSON; nil stays nil.
func json(_ data: Data?) throws -> JSONValue? {
    try data.map { try JSON.parse($0) }
}

/// Envelopes equal in every field, payloads compared as JSON.
func sameEnvelope(_ a: EventEnvelope, _ b: EventEnvelope) -> Bool {
    a.id == b.id && a.type == b.type && a.source == b.source && a.time == b.time && a.key == b.key
        && a.traceparent == b.traceparent && (try? JSON.parse(a.payload)) == (try? JSON.parse(b.payload))
}

/// Letters equal in every field but the id the store assigned.
func sameLetter(_ a: DeadLetter, _ b: DeadLetter) -> Bool {
    a.group == b.group && a.partition == b.partition && a.position == b.position && sameEnvelope(a.envelope, b.envelope)
        && a.error == b.error && a.attempts == b.attempts && a.parkedAt == b.parkedAt
}
