import Hummingbird
import TributaryWire

/// `GET /metrics`: this process's metrics in the Prometheus text format.
enum MetricsRoute {
    static func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: Telemetry.render())))
        }
    }
}
