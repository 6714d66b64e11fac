import ArgumentParser
import Foundation
import Logging
import TributaryController
import TributaryWire

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogSetup.Format: ExpressibleByArgument {}

@main
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-controller",
        abstract: "Run a Tributary controller: sessions, rounds, durable state (SQLite) and the REST API.",
        discussion: "Combiners dial --listen and subscribe to --publish; users and clients use the REST API on --http-host:--http-port.")

    @Option(help: "Directory for the SQLite database and model files.")
    var dataDir: String = "./tributary-data"
    @Option(help: "REST API bind host.")
    var httpHost: String = "127.0.0.1"
    @Option(help: "REST API port.")
    var httpPort: Int = 8092
    @Option(help: "nng REP address combiners send requests to.")
    var listen: String = "tcp://127.0.0.1:7100"
    @Option(help: "nng PUB address for round notices.")
    var publish: String = "tcp://127.0.0.1:7101"
    @Option(help: "Host combiners should dial for round notices when --publish uses 0.0.0.0.")
    var advertiseHost: String?
    @Option(help: "Heartbeat interval asked of combiners, in seconds (stale after 2 missed, offline after 5).")
    var heartbeat: Double = 1
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info
    @Option(help: "Log format: text or json (one object per line).")
    var logFormat: LogSetup.Format = .text
    @Option(help: "HS256 secret that turns on bearer-JWT authentication of the REST API (default: $TRIBUTARY_JWT_SECRET; unset: off).")
    var jwtSecret: String?
    @Option(help: "Print a token of this role (admin, client or observer) signed with --jwt-secret, then exit.")
    var issueToken: String?
    @Option(help: "Lifetime of --issue-token in days.")
    var tokenDays: Double = 30
    @Option(help: "Serve the dashboard's files from this directory instead of the built-in copies (to edit the page without a rebuild).")
    var dashboardDir: String?
    @Option(help: "PEM certificate (chain) for HTTPS and WSS on the HTTP APIs (with --tls-key; `tributary pki issue --role controller`).")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?
    @Option(help: "CA certificate (PEM) for mutual TLS on nng: with tls+tcp:// --listen and --publish, every combiner must present a certificate of this CA; the controller presents --tls-cert.")
    var tlsCa: String?
    @Flag(help: "Allow binding a non-loopback address without authentication (no --jwt-secret for HTTP; neither --peer-auth nor --tls-ca for nng). Only for isolated test networks.")
    var insecure = false
    @Option(help: "nng: requests a second each combiner may make; past it, refused with rate_limited (the combiner backs off).")
    var peerRateLimit: Double = 2000
    @Flag(help: "Peer authentication on nng: combiners and clients must present a peer token this controller signed (needs --jwt-secret, which guards the routes that hand tokens out).")
    var peerAuth = false
    @Option(help: "Print a peer token of this role (combiner or client) for --name, signed with the key in --data-dir, then exit.")
    var issuePeerToken: String?
    @Option(help: "The combiner name or client id of --issue-peer-token; with --issue-token client, the one client id the token may enrol.")
    var name: String?
    @Option(help: "REST API: requests a minute allowed per bearer token (with --jwt-secret); past it, 429 with Retry-After.")
    var apiRateLimit = 1200
    @Option(help: "Device API: requests a minute allowed per key (device or org); past it, 429 with Retry-After.")
    var deviceRateLimit = 100
    @Option(help: "Device API: the heartbeat interval devices are expected to keep, in seconds (stale after 2 missed, offline after 5).")
    var deviceHeartbeat: Double = 30
    @Option(help: "Device API: the shortest timeout_seconds a device round may have (the API's floor is 60; lower it for tests).")
    var deviceRoundMinTimeout = 60

    func run() async throws {
        let jwtSecret = (self.jwtSecret ?? ProcessInfo.processInfo.environment["TRIBUTARY_JWT_SECRET"]).flatMap { $0.isEmpty ? nil : $0 }
        if let role = issueToken {
            guard let jwtSecret, ["admin", "client", "observer"].contains(role) else {
                throw ValidationError("--issue-token needs --jwt-secret (or TRIBUTARY_JWT_SECRET) and a role of admin, client or observer")
            }
            guard name == nil || role == "client" else { throw ValidationError("--name binds client tokens only") }
            print(try await APIAuthentication(secret: jwtSecret).issue(role: role, subject: "cli", days: tokenDays, clientId: name).token)
            return
        }
        if let role = issuePeerToken {
            guard let role = PeerRole(rawValue: role), let name, !name.isEmpty else {
                throw ValidationError("--issue-peer-token needs a role of combiner or client and --name")
            }
            let issuer = try PeerTokenIssuer.load(orCreateAt: ControllerService.peerKeyURL(URL(fileURLWithPath: dataDir)))
            print(try await issuer.issue(role: role, name: name, lifetime: .seconds(tokenDays * 86_400)))
            return
        }
        try checkSecureBinding(jwtSecret: jwtSecret)
        if peerAuth && jwtSecret == nil {
            throw ValidationError("--peer-auth needs --jwt-secret: without API authentication anyone could ask clients/add for a client's peer token")
        }
        let logger = LogSetup.bootstrap(label: "tributary.controller", level: logLevel, format: logFormat)
        ShutdownWatchdog.install()
        Telemetry.bootstrap()
        var config = ControllerConfiguration(dataDirectory: URL(fileURLWithPath: dataDir))
        config.httpHost = httpHost
        config.httpPort = httpPort
        config.replyAddress = listen
        config.publishAddress = publish
        config.advertiseHost = advertiseHost
        config.heartbeatInterval = .milliseconds(Int64(heartbeat * 1000))
        config.jwtSecret = jwtSecret
        config.peerAuthentication = peerAuth
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        config.tlsCertificate = tlsCert.map { URL(fileURLWithPath: $0) }
        config.tlsKey = tlsKey.map { URL(fileURLWithPath: $0) }
        if let tlsCa {
            guard let tlsCert, let tlsKey else { throw ValidationError("--tls-ca needs --tls-cert and --tls-key (the controller's own certificate on nng)") }
            config.nngTLS = try TLSIdentity.load(ca: tlsCa, certificate: tlsCert, key: tlsKey)
        }
        guard peerRateLimit > 0 else { throw ValidationError("--peer-rate-limit must be positive") }
        config.combinerRateLimit = PeerRateLimit(perSecond: peerRateLimit)
        config.dashboardDirectory = dashboardDir.map { URL(fileURLWithPath: $0) }
        guard deviceRateLimit >= 1, deviceHeartbeat > 0, (1...3600).contains(deviceRoundMinTimeout) else {
            throw ValidationError("--device-rate-limit must be at least 1, --device-heartbeat positive, --device-round-min-timeout 1 to 3600")
        }
        config.deviceRequestsPerMinute = deviceRateLimit
        guard apiRateLimit >= 1 else { throw ValidationError("--api-rate-limit must be at least 1") }
        config.apiRequestsPerMinute = apiRateLimit
        config.deviceHeartbeatInterval = deviceHeartbeat
        config.deviceRoundMinimumTimeout = deviceRoundMinTimeout
        let service = try ControllerService(configuration: config, logger: logger)
        try await service.run()
    }

    /// Secure by default: an address other machines can reach needs authentication on it.
    private func checkSecureBinding(jwtSecret: String?) throws {
        let tlsOnNNG = [listen, publish].map(TLSIdentity.isTLS)
        if tlsCa != nil, tlsOnNNG.contains(false) {
            throw ValidationError("--tls-ca: use tls+tcp:// for both --listen and --publish (got \(listen), \(publish))")
        }
        if tlsCa == nil, tlsOnNNG.contains(true) {
            throw ValidationError("tls+tcp:// addresses need --tls-ca, --tls-cert and --tls-key")
        }
        guard !insecure else { return }
        if !AdvertisedAddress.isLoopback(httpHost), jwtSecret == nil {
            throw ValidationError("--http-host \(httpHost) is reachable from other machines: give --jwt-secret (or TRIBUTARY_JWT_SECRET), or --insecure for an isolated test network")
        }
        if let open = [listen, publish].first(where: { !AdvertisedAddress.isLoopback($0) }), !peerAuth, tlsCa == nil {
            throw ValidationError("\(open) is reachable from other machines: give --peer-auth or mutual TLS (--tls-ca with tls+tcp://), or --insecure for an isolated test network")
        }
    }
}
