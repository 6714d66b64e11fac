import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import TributaryModel
import TributaryWire

/// A running combiner: dials the controller, registers and heartbeats; serves its clients on
/// its own REP and PUB sockets; runs each job the controller orders (see `JobRunner`).
public final class CombinerService: Service, Sendable {
    public let configuration: CombinerConfiguration
    /// Addresses clients dial (with the real ports when listening on port 0).
    public let replyURL: String
    public let publishURL: String
    let state: CombinerState
    let controller: PeerConnection
    let clientNotices: Publisher
    /// Checks clients' peer tokens once the controller says the network requires them.
    let clientGate: PeerGate
    private let replySocket: Socket
    private let server: ReplyServer
    private let wakeup = Wakeup()
    private let heartbeat = Mutex<Duration>(.seconds(1))
    private let controllerNotices = Mutex<Subscriber?>(nil)
    private let logger: Logger

    public init(configuration: CombinerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        state = CombinerState(heartbeatInterval: .seconds(1), maxStagingBytes: configuration.maxStagingBytes,
                              maxDownloadBytes: configuration.maxDownloadBytes, spoolDirectory: configuration.spoolDirectory, logger: logger)
        controller = try PeerConnection(url: configuration.controllerAddress, credential: PeerCredential(token: configuration.peerToken), tls: configuration.tls)
        // With a CA, clients must prove their certificate (or, once the controller's key is known, present its token).
        clientGate = PeerGate(verifier: try configuration.tls.map { try PeerTokenVerifier(publicKey: nil, trustedCAPEM: $0.caPEM) },
                              rateLimit: configuration.clientRateLimit, logger: logger)

        var options = SocketOptions()
        options.receiveMaxSize = FrameLimits.receiveMaxSize
        options.tls = configuration.tls
        replySocket = try Socket(.reply, options: options)
        let boundReply = try replySocket.listen(configuration.replyAddress)
        clientNotices = try Publisher(listen: configuration.publishAddress, options: SocketOptions(tls: configuration.tls))
        replyURL = AdvertisedAddress.replacingHost(of: boundReply, with: configuration.advertiseHost)
        publishURL = AdvertisedAddress.replacingHost(of: clientNotices.url, with: configuration.advertiseHost)

        let handler = CombinerRequestHandler(name: configuration.name, state: state, gate: clientGate, logger: logger)
        server = ReplyServer(socket: replySocket, concurrency: configuration.replyConcurrency, logger: logger) { await handler.handle($0) }
    }

    /// Serves until cancelled or shut down gracefully (SIGTERM/SIGINT through ServiceLifecycle).
    public func run() async throws {
        if configuration.peerToken == nil, let tls = configuration.tls, tls.certificatePEM != nil {
            try await controller.credential?.present(tls)
        }
        let wakeup = wakeup
        await state.setProgressHandler { wakeup.signal() }
        logger.info("combiner listening", metadata: ["name": "\(configuration.name)", "nng": "\(replyURL)", "pub": "\(publishURL)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.server.run() }
            group.addTask { await self.controllerLoop() }
            await withGracefulShutdownHandler {
                await group.next()
            } onGracefulShutdown: {
                Task {
                    await self.leave()
                    self.shutdown()
                }
            }
            group.cancelAll()
        }
    }

    /// Tells the controller this combiner is going (best effort, bounded).
    func leave() async {
        _ = try? await controller.call(.combinerLeave, CombinerLeave(name: configuration.name), expecting: .ack, timeout: .seconds(2))
    }

    public func shutdown() {
        logger.info("combiner shutting down")
        replySocket.close()
        clientNotices.close()
        controller.close()
        controllerNotices.withLock { $0?.close() }
    }

    /// Register, then heartbeat every interval (sooner when a round notice arrives); each
    /// reply says which job to run. Re-registers when the controller asks (it restarted).
    private func controllerLoop() async {
        var registered = false
        while !Task.isCancelled {
            do {
                if !registered {
                    try await register()
                    registered = true
                }
                let reply = try await controller.call(
                    .combinerHeartbeat,
                    CombinerHeartbeat(name: configuration.name, clients: await state.onlineClients(), staleClients: await state.staleClients(),
                                      progress: await state.progress(), refusals: await clientGate.drain()),
                    expecting: .combinerHeartbeatReply, as: CombinerHeartbeatReply.self,
                    timeout: min(max(heartbeat.withLock { $0 } * 2, .seconds(2)), configuration.requestTimeout))
                if reply.mustRegister {
                    registered = false
                    continue
                }
                if let order = reply.job, await state.claim(order) {
                    let runner = JobRunner(name: configuration.name, state: state, controller: controller, notices: clientNotices,
                                           requestTimeout: configuration.requestTimeout, logger: logger)
                    Task { await runner.run(order) }
                }
                if let skipped = reply.closeJob { await state.closeEarly(jobId: skipped) }
                if let revoked = reply.revokedClients { await clientGate.setRevocations(revoked.mapValues { Date(timeIntervalSince1970: $0) }, role: .client) }
            } catch {
                logger.warning("controller unreachable", metadata: ["error": "\(error)"])
            }
            await state.sweepClients()
            Gauge(label: "tributary_clients_online").record(await state.onlineClients().count)
            await wakeup.wait(timeout: heartbeat.withLock { $0 })
        }
    }

    private func register() async throws {
        let reply = try await controller.call(
            .combinerRegister,
            CombinerRegister(name: configuration.name, replyAddress: replyURL, publishAddress: publishURL),
            expecting: .combinerRegistered, as: CombinerRegistered.self, timeout: configuration.requestTimeout)
        let interval = Duration.milliseconds(Int64((reply.heartbeatSeconds * 1000).rounded()))
        heartbeat.withLock { $0 = interval }
        await state.setHeartbeatInterval(interval)
        try subscribe(to: reply.publishAddress)
        if let key = reply.peerPublicKey {
            guard let raw = Data(base64Encoded: key) else { throw WireError(.malformed, "the controller's peer public key is not base64") }
            await clientGate.require(try PeerTokenVerifier(publicKey: raw, trustedCAPEM: configuration.tls?.caPEM))
        }
        logger.info("registered with controller", metadata: ["combiner_id": "\(reply.combinerId)", "peer_auth": "\(reply.peerPublicKey != nil)"])
    }

    /// Round notices from the controller only wake the heartbeat loop early.
    private func subscribe(to url: String) throws {
        let subscriber = try Subscriber(dial: url, options: SocketOptions(tls: configuration.tls))
        controllerNotices.withLock {
            $0?.close()
            $0 = subscriber
        }
        let wakeup = wakeup
        Task {
            for await _ in subscriber.messages { wakeup.signal() }
        }
    }
}
