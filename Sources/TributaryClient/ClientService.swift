import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryModel
import TributaryWire

/// A running client: asks the controller's REST API for a combiner, dials it, registers and
/// heartbeats; each heartbeat reply may carry a task (train or validate), which it runs
/// with its trainer while it keeps heartbeating. If its combiner stays unreachable it asks
/// the controller again and moves to the combiner it is given.
public final class ClientService: Service, Sendable {
    public let configuration: ClientConfiguration
    private let trainer: any Trainer
    private let api: ControllerAPI
    private let wakeup = Wakeup()
    /// The task running now and the last tasks finished (a heartbeat reply may repeat a task
    /// until the combiner has the result).
    private let tasks = Mutex<(running: String?, finished: [String])>((nil, []))
    private let logger: Logger
    /// Swarm mode: PUB subscriptions shared with the other clients of this process.
    private let noticeHub: NoticeHub?

    /// `notices`: share PUB subscriptions through this hub (swarm mode) instead of dialing one
    /// subscriber per client.
    public init(configuration: ClientConfiguration, trainer: any Trainer, logger: Logger, notices: NoticeHub? = nil) {
        self.configuration = configuration
        self.trainer = trainer
        self.api = ControllerAPI(baseURL: configuration.controllerURL, token: configuration.token, caPEM: configuration.tls?.caPEM)
        self.logger = logger
        self.noticeHub = notices
    }

    /// Runs until cancelled or shut down gracefully (SIGTERM/SIGINT through ServiceLifecycle).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                guard let session = await self.join() else { return }
                await self.serve(session)
                session.close()
            }
        }
    }

    /// One attachment to a combiner.
    private struct Attachment: Sendable {
        let combiner: String
        let peer: PeerConnection
        let closeNotices: @Sendable () -> Void

        func close() {
            closeNotices()
            peer.close()
        }
    }

    /// Asks the controller for a combiner until it answers (back-off up to 5 s).
    private func join() async -> Attachment? {
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                let assignment = try await api.addClient(id: configuration.clientId, name: configuration.name, preferredCombiner: configuration.preferredCombiner)
                // The controller's token for this client id when it hands one out, else the certificate's proof.
                let credential = if assignment.peerToken == nil, let tls = configuration.tls, tls.certificatePEM != nil {
                    try await PeerCredential.certificate(tls)
                } else {
                    PeerCredential(token: assignment.peerToken)
                }
                let peer = try PeerConnection(url: assignment.combinerAddress, credential: credential, tls: configuration.tls)
                let closeNotices: @Sendable () -> Void
                do {
                    closeNotices = try subscribe(to: assignment.combinerPublishAddress)
                } catch {
                    peer.close()
                    throw error
                }
                logger.info("assigned to combiner", metadata: ["combiner": "\(assignment.combiner)", "address": "\(assignment.combinerAddress)"])
                return Attachment(combiner: assignment.combiner, peer: peer, closeNotices: closeNotices)
            } catch {
                logger.warning("joining failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        return nil
    }

    /// PUB notices only wake the heartbeat loop: through the shared hub, or a subscriber of our own.
    private func subscribe(to url: String) throws -> @Sendable () -> Void {
        let wakeup = wakeup
        if let hub = noticeHub {
            let token = try hub.join(url: url, wakeup: wakeup, tls: configuration.tls)
            return { hub.leave(token, url: url) }
        }
        let notices = try Subscriber(dial: url, options: SocketOptions(tls: configuration.tls))
        Task { for await _ in notices.messages { wakeup.signal() } }
        return { notices.close() }
    }

    /// Registers and heartbeats until the combiner has failed `rejoinAfterFailures` times in a row.
    private func serve(_ attachment: Attachment) async {
        var registered = false
        var failures = 0
        var interval = Duration.seconds(1)
        let timeout = configuration.requestTimeout
        while !Task.isCancelled && failures < configuration.rejoinAfterFailures {
            do {
                if !registered {
                    let reply = try await attachment.peer.call(
                        .clientRegister, ClientRegister(clientId: configuration.clientId, name: configuration.name),
                        expecting: .clientRegistered, as: ClientRegistered.self, timeout: timeout)
                    interval = .milliseconds(Int64((reply.heartbeatSeconds * 1000).rounded()))
                    registered = true
                    logger.info("registered with combiner", metadata: ["combiner": "\(reply.combiner)"])
                }
                // Heartbeats fail fast, so a dead combiner is noticed within a few intervals.
                let reply = try await attachment.peer.call(
                    .clientHeartbeat, ClientHeartbeat(clientId: configuration.clientId),
                    expecting: .clientHeartbeatReply, as: ClientHeartbeatReply.self, timeout: Self.heartbeatTimeout(interval, cap: timeout))
                failures = 0
                if let seconds = reply.heartbeatSeconds, seconds > 0, seconds <= 60 { interval = .milliseconds(Int64(seconds * 1000)) }
                if reply.mustRegister {
                    registered = false
                    continue
                }
                if let task = reply.task, startTask(task.jobId) {
                    let executor = TaskExecutor(clientId: configuration.clientId, trainer: trainer, peer: attachment.peer, timeout: timeout, logger: logger)
                    Task {
                        await executor.run(task)
                        self.finishTask(task.jobId)
                    }
                }
            } catch {
                failures += 1
                logger.warning("combiner unreachable", metadata: ["combiner": "\(attachment.combiner)", "failures": "\(failures)", "error": "\(error)"])
            }
            await wakeup.wait(timeout: interval)
        }
        if failures > 0 { logger.warning("leaving combiner \(attachment.combiner); asking the controller again") }
    }

    /// How long one heartbeat may take: two intervals, at least 2 s, at most the request timeout.
    static func heartbeatTimeout(_ interval: Duration, cap: Duration) -> Duration {
        min(max(interval * 2, .seconds(2)), cap)
    }

    /// Claims the task if no other task runs and it was not run before.
    private func startTask(_ jobId: String) -> Bool {
        tasks.withLock { state in
            guard state.running == nil, !state.finished.contains(jobId) else { return false }
            state.running = jobId
            return true
        }
    }

    private func finishTask(_ jobId: String) {
        tasks.withLock { state in
            state.running = nil
            state.finished.append(jobId)
            if state.finished.count > 32 { state.finished.removeFirst() }
        }
        wakeup.signal()
    }
}
