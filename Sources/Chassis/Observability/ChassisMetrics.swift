import Metrics

/// The chassis's own metrics, recorded through swift-metrics and exported at `/metrics`
/// by the service's Prometheus registry. Names follow Prometheus conventions.
public struct ChassisMetrics: Sendable {
    public static let shared = ChassisMetrics()

    public func published(_ count: Int) {
        Counter(label: "msa_outbox_published_total").increment(by: count)
    }

    public func outboxBacklog(_ count: Int) {
        Gauge(label: "msa_outbox_backlog").record(count)
    }

    public func handled(group: String, type: String, duration: Duration) {
        Counter(label: "msa_events_handled_total", dimensions: [("group", group), ("type", type)]).increment()
        Metrics.Timer(label: "msa_event_handler_duration_seconds", dimensions: [("group", group)], preferredDisplayUnit: .seconds)
            .recordNanoseconds(duration.wholeNanoseconds)
    }

    /// A delivery of an event this group had already handled (redelivery after a crash,
    /// or two members briefly holding one partition while it moves): dropped, not handled.
    public func duplicate(group: String, type: String) {
        Counter(label: "msa_events_duplicates_total", dimensions: [("group", group), ("type", type)]).increment()
    }

    public func handlerFailed(group: String, type: String) {
        Counter(label: "msa_event_handler_failures_total", dimensions: [("group", group), ("type", type)]).increment()
    }

    public func deadLettered(group: String, type: String) {
        Counter(label: "msa_dead_letters_total", dimensions: [("group", group), ("type", type)]).increment()
    }

    public func lag(group: String, partition: Int, events: Int64) {
        Gauge(label: "msa_consumer_lag", dimensions: [("group", group), ("partition", String(partition))]).record(events)
    }

    public func leases(group: String, count: Int) {
        Gauge(label: "msa_consumer_partitions_owned", dimensions: [("group", group)]).record(count)
    }

    /// 0 closed, 1 half-open, 2 open.
    public func breaker(target: String, state: Int) {
        Gauge(label: "msa_circuit_breaker_state", dimensions: [("target", target)]).record(state)
    }

    public func callRejected(target: String, reason: String) {
        Counter(label: "msa_calls_rejected_total", dimensions: [("target", target), ("reason", reason)]).increment()
    }

    /// How a gated call ended: `committed`, `refused` (the target's verdict), `unreachable`
    /// (nothing sent), `undo` (outcome unknown or the commit failed: queued for undoing),
    /// `superseded` (a twin committed the same change).
    public func gatedCall(_ call: String, outcome: String) {
        Counter(label: "msa_gated_calls_total", dimensions: [("call", call), ("outcome", outcome)]).increment()
    }

    /// An undo sent and acknowledged by the target.
    public func undone(_ call: String) {
        Counter(label: "msa_gated_calls_undone_total", dimensions: [("call", call)]).increment()
    }

    /// Gated calls in flight (`sent`) and waiting to be undone (`undo`).
    public func pendingCalls(sent: Int, undo: Int) {
        Gauge(label: "msa_gated_calls_pending", dimensions: [("state", "sent")]).record(sent)
        Gauge(label: "msa_gated_calls_pending", dimensions: [("state", "undo")]).record(undo)
    }
}
