/// A gated call that was sent and is not settled yet: the record that lets the chassis
/// undo it when its outcome is unknown, even after the caller crashed.
///
/// Written in the caller's store only once the call was admitted (never for a local
/// refusal); deleted by the commit that settles the call, or by the undo job once the
/// target acknowledged the undo.
struct PendingCall: Entity, Equatable {
    static let collection = "pendingCalls"

    enum State: String, Codable, Sendable {
        /// In flight: its caller will commit or settle it before `deadline`.
        case sent
        /// To be undone: the outcome is unknown, or the change it gated failed.
        case undo
    }

    var id: Int64?
    /// The ``GatedCall``'s name (`payment.approve`): which undo to send.
    var call: String
    /// The thing the call is about, for calls that take one at a time (an entity's id).
    var key: String?
    /// The call's request as JSON, from which the undo is made.
    var request: String
    var state: State
    /// Milliseconds since 1970. A `sent` call past it is taken over by the undo job.
    var deadline: Int64
    /// When the undo job should (next) try to undo it.
    var dueAt: Int64
    var attempts: Int = 0
    var lastError: String?

    func isDue(at now: Int64) -> Bool {
        switch state {
        case .sent: deadline <= now
        case .undo: dueAt <= now
        }
    }
}
