import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TributaryCombiner
import TributaryWire

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogSetup.Format: ExpressibleByArgument {}

@main
struct CombinerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-combiner",
        abstract: "Run a Tributary combiner: serves many clients and partially aggregates their updates.")

    @Option(help: "Unique combiner name; a restarted combiner with the same name takes its old place.")
    var name: String
    @Option(help: "The controller's nng address.")
    var controller: String = "tcp://127.0.0.1:7100"
    @Option(help: "nng REP address clients send requests to.")
    var listen: String = "tcp://127.0.0.1:7200"
    @Option(help: "nng PUB address for task notices to clients.")
    var publish: String = "tcp://127.0.0.1:7201"
    @Option(help: "Host clients should dial when listening on 0.0.0.0.")
    var advertiseHost: String?
    @Option(help: "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (off when absent).")
    var metricsPort: Int?
    @Option(help: "Bind host for --metrics-port.")
    var metricsHost: String = "127.0.0.1"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info
    @Option(help: "Peer token presented to the controller (default: $TRIBUTARY_PEER_TOKEN); needed when the controller runs with --peer-auth.")
    var peerToken: String?
    @Option(help: "Log format: text or json (one object per line).")
    var logFormat: LogSetup.Format = .text
    @Option(help: "CA certificate (PEM) for mutual TLS on tls+tcp:// addresses: the controller's and every client's certificate must come from it.")
    var tlsCa: String?
    @Option(help: "This combiner's certificate (PEM; `tributary pki issue --role combiner --name NAME`); without --peer-token it is also its identity.")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?
    @Option(help: "Requests a second each client may make; past it, refused with rate_limited (the client backs off).")
    var clientRateLimit: Double = 200

    @Option(help: "MiB of client updates admitted at once (upload slots and staged multi-chunk uploads); one update always fits. More takes uploads in parallel at the cost of memory.")
    var stagingBudget: Int = 4
    @Option(help: "MiB of model chunks sent to clients and not yet confirmed received; one chunk always goes. More serves downloads in parallel at the cost of memory.")
    var downloadBudget: Int = 4
    @Option(help: "Directory the round's model is spooled to while it is served (its bytes stay in the page cache, not in this process); 'memory' keeps it in memory. Default: the system's temporary directory.")
    var spoolDir: String?

    func run() async throws {
        MallocTuning.mapLargeAllocations()
        let logger = LogSetup.bootstrap(label: "tributary.combiner", level: logLevel, format: logFormat)
        ShutdownWatchdog.install()
        Telemetry.bootstrap()
        var config = CombinerConfiguration(name: name, controllerAddress: controller)
        config.replyAddress = listen
        config.publishAddress = publish
        config.advertiseHost = advertiseHost
        let addresses = [controller, listen, publish]
        if let tlsCa {
            guard !addresses.contains(where: { !TLSIdentity.isTLS($0) }) else {
                throw ValidationError("--tls-ca: use tls+tcp:// for --controller, --listen and --publish")
            }
            guard tlsCert != nil else { throw ValidationError("--tls-ca needs --tls-cert and --tls-key: clients and the controller require this combiner's certificate") }
            config.tls = try TLSIdentity.load(ca: tlsCa, certificate: tlsCert, key: tlsKey)
        } else if addresses.contains(where: TLSIdentity.isTLS) {
            throw ValidationError("tls+tcp:// addresses need --tls-ca, --tls-cert and --tls-key")
        }
        guard clientRateLimit > 0 else { throw ValidationError("--client-rate-limit must be positive") }
        config.clientRateLimit = PeerRateLimit(perSecond: clientRateLimit)
        guard stagingBudget > 0 else { throw ValidationError("--staging-budget must be positive") }
        config.maxStagingBytes = stagingBudget << 20
        guard downloadBudget > 0 else { throw ValidationError("--download-budget must be positive") }
        config.maxDownloadBytes = downloadBudget << 20
        if let spoolDir { config.spoolDirectory = spoolDir == "memory" ? nil : URL(fileURLWithPath: spoolDir) }
        config.peerToken = (peerToken ?? ProcessInfo.processInfo.environment["TRIBUTARY_PEER_TOKEN"]).flatMap { $0.isEmpty ? nil : $0 }
        let service = try CombinerService(configuration: config, logger: logger)
        var services: [any Service] = [service]
        if let metricsPort {
            let router = Router()
            router.get("/metrics") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: .init(byteBuffer: ByteBuffer(string: Telemetry.render())))
            }
            services.append(Application(router: router, configuration: .init(address: .hostname(metricsHost, port: metricsPort)), logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
