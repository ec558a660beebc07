import Metrics
import Prometheus
import Synchronization

/// The process's Prometheus registry, bootstrapped into swift-metrics once per process
/// (swift-metrics allows one bootstrap; tests and services may ask many times).
public enum Telemetry {
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    public static func bootstrap() {
        let first = bootstrapped.withLock { done in defer { done = true }; return !done }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }

    /// The registry in Prometheus text exposition format.
    public static func scrape() -> String { registry.emitToString() }
}
