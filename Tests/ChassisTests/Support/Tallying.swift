import Chassis
import ChassisTesting

/// Per key, the sequence numbers of the events handled, in handling order.
struct Tally: Entity {
    static let collection = "tallies"
    var id: Int64?
    var key: String
    var seqs: [Int]
}

/// One row per handling of an event: a duplicate handling shows as a second row.
struct Sighting: Entity {
    static let collection = "sightings"
    var id: Int64?
    var event: String
    var member: String
}

struct Poisoned: Error, CustomStringConvertible {
    let key: String
    var description: String { "events of \(key) always fail" }
}

extension Policies {
    /// Whenever a ``SampleEvent`` arrives, append its seq to its key's tally and record a
    /// sighting by `member`. Events of `poisoned` keys always fail; `pause` (inside the
    /// transaction) widens the window in which a consumer can be stopped mid-stream.
    static func tallying(as member: String = "", poisoned: Set<String> = [], pause: Duration = .zero) -> Policies {
        Policies().on(SampleEvent.self) { event, tx in
            if poisoned.contains(event.key) { throw Poisoned(key: event.key) }
            if pause > .zero { try await Task.sleep(for: pause) }
            var tally = try await tx.all(Tally.self, where: "key", equals: event.key).first ?? Tally(key: event.key, seqs: [])
            tally.seqs.append(event.seq)
            try await tx.save(tally)
            try await tx.save(Sighting(event: event.label, member: member))
        }
    }
}
