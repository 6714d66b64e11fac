import Metrics
import Prometheus
import Synchronization

/// Prometheus metrics for every role: executables call `bootstrap()` once at start (swift-metrics
/// allows one backend per process); libraries record through swift-metrics' `Counter`,
/// `Gauge` and `Timer`, which stay no-ops when nothing was bootstrapped (unit tests).
public enum Telemetry {
    private static let registry = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Installs a Prometheus registry as the metrics backend. Call once, from `main`.
    public static func bootstrap() {
        let prometheus = PrometheusCollectorRegistry()
        registry.withLock { $0 = prometheus }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: prometheus))
    }

    /// Everything recorded so far in the Prometheus text format (empty before `bootstrap()`).
    public static func render() -> String {
        registry.withLock { $0?.emitToString() } ?? ""
    }

    /// Bytes of protocol messages served: `tributary_bytes_total{direction="in"|"out"}`.
    static let bytesIn = Counter(label: "tributary_bytes_total", dimensions: [("direction", "in")])
    static let bytesOut = Counter(label: "tributary_bytes_total", dimensions: [("direction", "out")])

    /// Results offered to an aggregate: `tributary_updates_total{result="accepted"|"rejected"}`.
    static let updatesAccepted = Counter(label: "tributary_updates_total", dimensions: [("result", "accepted")])
    static let updatesRejected = Counter(label: "tributary_updates_total", dimensions: [("result", "rejected")])

    /// nng requests refused for their peer token: `tributary_peer_auth_refused_total{role}`.
    static func peerAuthRefused(_ role: PeerRole) -> Metrics.Counter {
        Metrics.Counter(label: "tributary_peer_auth_refused_total", dimensions: [("role", role.rawValue)])
    }

    /// nng requests refused for their sender's rate: `tributary_peer_rate_limited_total{role}`.
    static func peerRateLimited(_ role: PeerRole) -> Metrics.Counter {
        Metrics.Counter(label: "tributary_peer_rate_limited_total", dimensions: [("role", role.rawValue)])
    }
}
