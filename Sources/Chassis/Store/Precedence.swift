/// The order in which a view's status may move, for a row built from events that come
/// from several services and so may overtake one another: a status only moves forward,
/// and a late or repeated event never moves it back.
///
/// ```swift
/// static let progress = Precedence("Ordered", "Delivery Started", "Delivery Cancelled")
/// Self.progress.advance(&status, to: "Delivery Started")
/// ```
/// Statuses in one group of ``init(levels:)`` rank alike (`CANCEL` and `REJECTED` both end
/// a booking): the first to arrive stays. A status not listed ranks below every one.
public struct Precedence: Sendable {
    private let rank: [String: Int]

    public init(_ statuses: String...) {
        self.init(levels: statuses.map { [$0] })
    }

    public init(levels: [[String]]) {
        var rank: [String: Int] = [:]
        for (level, statuses) in levels.enumerated() { for status in statuses { rank[status] = level } }
        self.rank = rank
    }

    /// Sets `status` to `next` if `next` ranks above it.
    public func advance(_ status: inout String?, to next: String) {
        if (rank[next] ?? -1) > (status.flatMap { rank[$0] } ?? -1) { status = next }
    }
}
