import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOSSL
import ServiceLifecycle
import TributaryStore
import TributaryWire

/// A running controller: the store, the nng endpoints combiners talk to, the session
/// manager and the REST API. `run()` serves until cancelled or asked to shut down
/// (SIGTERM/SIGINT through ServiceLifecycle).
public final class ControllerService: Sendable {
    public let configuration: ControllerConfiguration
    public let replyURL: String
    public let publishURL: String
    let store: Store
    let registry: NetworkRegistry
    let sessions: SessionManager
    /// The tier that folds HTTP participants' updates into rounds, and their registry.
    let cohort: HTTPCohort
    let httpParticipants: HTTPParticipants
    /// The FL Framework API's rate limits (kept across router builds).
    let flRateLimiter: FLRateLimiter
    let deviceLimiter = FixedWindowLimiter()
    /// Per-token request counts of the REST API (kept across router builds).
    let apiLimiter = FixedWindowLimiter()
    /// Device uploads read and decoded at once (the rest wait, unread).
    let deviceUploads = UploadSlots(capacity: 4)
    /// Live events for `/ws/events`.
    public let events = EventHub()
    private let server: ReplyServer
    private let replySocket: Socket
    private let publisher: Publisher
    private let logger: Logger
    /// Bearer-JWT checking of REST and WebSocket requests; nil when no secret is configured.
    let authentication: APIAuthentication?
    /// Signs peer tokens (combiners', and clients' through `clients/add`); nil without peer authentication.
    let peerIssuer: PeerTokenIssuer?
    /// Checks combiners' peer tokens; deleting a combiner or client revokes theirs here.
    let peerGate: PeerGate

    public init(configuration: ControllerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        authentication = configuration.jwtSecret.map(APIAuthentication.init(secret:))
        store = try Store(directory: configuration.dataDirectory)
        let issuer = configuration.peerAuthentication ? try PeerTokenIssuer.load(orCreateAt: Self.peerKeyURL(configuration.dataDirectory)) : nil
        peerIssuer = issuer
        registry = NetworkRegistry(store: store, heartbeatInterval: configuration.heartbeatInterval, events: events, logger: logger)
        let models = ModelCache(store: store)
        let jobs = JobBoard(maxStagingBytes: configuration.maxStagingBytes,
                            spillDirectory: configuration.dataDirectory.appendingPathComponent("spill", isDirectory: true), logger: logger)

        var options = SocketOptions()
        options.receiveMaxSize = FrameLimits.receiveMaxSize
        options.tls = configuration.nngTLS
        replySocket = try Socket(.reply, options: options)
        replyURL = try replySocket.listen(configuration.replyAddress)
        publisher = try Publisher(listen: configuration.publishAddress, options: SocketOptions(tls: configuration.nngTLS))
        publishURL = AdvertisedAddress.replacingHost(of: publisher.url, with: configuration.advertiseHost)

        cohort = HTTPCohort(jobs: jobs, maxStagingBytes: configuration.maxStagingBytes, logger: logger)
        httpParticipants = HTTPParticipants(store: store, activeWindow: configuration.httpParticipantActiveWindow,
                                            deviceWindow: 2 * configuration.deviceHeartbeatInterval)
        flRateLimiter = FLRateLimiter(limits: configuration.flRateLimits)
        let runner = RoundRunner(store: store, registry: registry, jobs: jobs, models: models, notices: publisher, logger: logger,
                                 httpParticipants: httpParticipants, cohort: cohort, cancellations: RoundCancellations())
        sessions = SessionManager(store: store, registry: registry, runner: runner, events: events, logger: logger)
        let statuses = store
        let revoked: [PeerRole: [String: Date]] = [.combiner: try store.peerRevocations(role: "combiner"), .client: try store.peerRevocations(role: "client")]
        // Combiners authenticate with a token this controller signed or, inside mutual TLS, their certificate.
        let verifier = issuer != nil || configuration.nngTLS != nil
            ? try PeerTokenVerifier(publicKey: issuer?.publicKey, trustedCAPEM: configuration.nngTLS?.caPEM) : nil
        let gate = PeerGate(verifier: verifier, revoked: revoked, rateLimit: configuration.combinerRateLimit, logger: logger) { refusal, role in
            // Refused peers are part of the network's record: a status event each (a flood: one a minute per peer).
            let event = StatusRecord(status: "\(role.rawValue) request refused (\(refusal.kind)): \(refusal.reason)", logLevel: "WARNING",
                                     type: refusal.isRateLimit ? "RATE_LIMITED" : "PEER_AUTH_REFUSED",
                                     sessionId: nil, roundNumber: nil, senderName: refusal.claimed ?? "unknown", senderRole: role.rawValue)
            try? statuses.insert(event)
        }
        peerGate = gate
        let handler = ControllerRequestHandler(registry: registry, jobs: jobs, models: models, gate: gate, peerPublicKey: issuer?.publicKey,
                                               heartbeatInterval: configuration.heartbeatInterval, publishAddress: publishURL, logger: logger)
        server = ReplyServer(socket: replySocket, concurrency: configuration.replyConcurrency, logger: logger) { await handler.handle($0) }
    }

    /// HTTP/1.1 with WebSocket upgrade (the event streams), inside TLS when a certificate is configured.
    private func serverBuilder() throws -> HTTPServerBuilder {
        let plain = HTTPServerBuilder.http1WebSocketUpgrade(webSocketRouter: EventRoutes.router(events: events, authentication: authentication))
        guard let certificate = configuration.tlsCertificate, let key = configuration.tlsKey else { return plain }
        let chain = try NIOSSLCertificate.fromPEMFile(certificate.path).map { NIOSSLCertificateSource.certificate($0) }
        let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key.path, format: .pem)))
        return try .tls(plain, tlsConfiguration: tls)
    }

    /// Where the controller keeps its peer-token signing key.
    public static func peerKeyURL(_ dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("peer-signing.key")
    }

    /// Serves nng and HTTP until cancelled or shut down gracefully.
    public func run() async throws {
        let app = Application(
            router: try makeRouter(),
            server: try serverBuilder(),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "tributary-controller"),
            services: [NNGEndpoints(service: self)],
            logger: logger)
        try await sessions.resumeInterrupted()
        logger.info("controller listening", metadata: [
            "rest": "\(configuration.tlsCertificate == nil ? "http" : "https")://\(configuration.httpHost):\(configuration.httpPort)", "nng": "\(replyURL)", "pub": "\(publishURL)",
            "data": "\(configuration.dataDirectory.path)",
        ])
        try await app.runService()
    }

    /// The REST API's router (tests drive it without a socket).
    func makeRouter() throws -> Router<BasicRequestContext> {
        try APIRouter.build(.init(store: store, registry: registry, sessions: sessions, events: events, configuration: configuration,
                                  authentication: authentication, cohort: cohort, httpParticipants: httpParticipants, flRateLimiter: flRateLimiter,
                                  deviceLimiter: deviceLimiter, deviceUploads: deviceUploads, peerIssuer: peerIssuer, peerGate: peerGate,
                                  apiRateLimit: APIRateLimit(limiter: apiLimiter, requestsPerMinute: configuration.apiRequestsPerMinute, store: store)))
    }

    /// The nng side as a ServiceLifecycle service: the REP server and the liveness sweep.
    private struct NNGEndpoints: Service {
        let service: ControllerService

        func run() async throws {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await service.server.run() }
                group.addTask { await service.sweepLoop() }
                await withGracefulShutdownHandler {
                    await group.next()
                } onGracefulShutdown: {
                    service.shutdown()
                }
                group.cancelAll()
            }
        }
    }

    private func sweepLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeatInterval)
            do { try await registry.sweep() } catch { logger.error("liveness sweep failed", metadata: ["error": "\(error)"]) }
        }
    }

    /// Closes the sockets; pending requests end with an error.
    public func shutdown() {
        logger.info("controller shutting down")
        replySocket.close()
        publisher.close()
    }
}
