import Foundation
import Logging
import TributaryModel
import TributaryStore
import TributaryWire

/// Answers combiners on the controller's REP socket. Each message kind is decoded and
/// handled here, in one place; anything malformed gets an error reply and a log line. With peer
/// authentication on, each request's token must be a combiner's and name the combiner the
/// request speaks for (`gate`).
struct ControllerRequestHandler: Sendable {
    let registry: NetworkRegistry
    let jobs: JobBoard
    let models: ModelCache
    let gate: PeerGate
    /// Handed to combiners at registration, to verify their clients' tokens.
    let peerPublicKey: Data?
    let heartbeatInterval: Duration
    let publishAddress: String
    let logger: Logger

    func handle(_ message: Message) async -> Message {
        await RequestHandling.reply(to: message, logger: logger, reply(to:))
    }

    private func reply(to frame: Frame) async throws -> Message {
        switch frame.kind {
        case .combinerRegister:
            let request = try frame.decodeMetadata(CombinerRegister.self)
            try await gate.check(frame, .combiner, as: request.name)
            let record = try await registry.register(request)
            let interval = Double(heartbeatInterval.components.seconds) + Double(heartbeatInterval.components.attoseconds) / 1e18
            return try Frame.encode(.combinerRegistered, CombinerRegistered(combinerId: record.combinerId, heartbeatSeconds: interval, publishAddress: publishAddress,
                                                                            peerPublicKey: peerPublicKey?.base64EncodedString()))

        case .combinerHeartbeat:
            let beat = try frame.decodeMetadata(CombinerHeartbeat.self)
            try await gate.check(frame, .combiner, as: beat.name)
            await gate.record(beat.refusals, role: .client)
            guard try await registry.heartbeat(beat) else {
                return try Frame.encode(.combinerHeartbeatReply, CombinerHeartbeatReply(job: nil, mustRegister: true))
            }
            let revoked = await gate.isOn ? (await gate.revocations(.client)).mapValues { $0.timeIntervalSince1970 } : nil
            return try Frame.encode(.combinerHeartbeatReply, CombinerHeartbeatReply(job: await jobs.order(for: beat.name), closeJob: await jobs.closeRequest(for: beat.name),
                                                                                    revokedClients: revoked))

        case .combinerLeave:
            let leave = try frame.decodeMetadata(CombinerLeave.self)
            try await gate.check(frame, .combiner, as: leave.name)
            try await registry.leave(leave.name)
            await jobs.participantGone(leave.name, reason: "combiner left the network")
            return try Frame.encode(.ack, Empty())

        case .getModelInfo:
            let request = try frame.decodeMetadata(GetModelInfo.self)
            try await gate.check(frame, .combiner, as: nil)
            let (model, checksum) = try await cachedModel(request.modelId)
            return try ModelTransfer.infoReply(modelId: request.modelId, spec: model.spec, chunkSize: request.chunkSize, checksum: checksum)

        case .getModelChunk:
            let request = try frame.decodeMetadata(GetModelChunk.self)
            try await gate.check(frame, .combiner, as: nil)
            let entry = try await cachedEntry(request.modelId)
            return try ModelTransfer.chunkReply(request, model: entry.model, checksums: entry.chunkChecksums)

        case .submitPartial:
            let meta = try frame.decodeMetadata(UploadChunk.self)
            try await gate.check(frame, .combiner, as: meta.sender)
            return try Frame.encode(.uploadReceipt, await jobs.uploadRoom.admit { try await jobs.receivePartial(meta, frame: frame) })

        case .forwardUpdate:
            let meta = try frame.decodeMetadata(UploadChunk.self)
            try await gate.check(frame, .combiner, as: meta.via ?? "")
            return try Frame.encode(.uploadReceipt, await jobs.uploadRoom.admit { try await jobs.receiveForwarded(meta, frame: frame) })

        case .submitJobReport:
            let report = try frame.decodeMetadata(JobReport.self)
            try await gate.check(frame, .combiner, as: report.combiner)
            try await jobs.receiveReport(report)
            return try Frame.encode(.ack, Empty())

        default:
            throw WireError(.unexpectedKind, "the controller does not serve \(frame.kind)")
        }
    }

    private func cachedModel(_ id: String) async throws -> (Model, UInt64) {
        let entry = try await cachedEntry(id)
        return (entry.model, entry.checksum)
    }

    private func cachedEntry(_ id: String) async throws -> ModelCache.Entry {
        do {
            return try await models.entry(id: id)
        } catch StoreError.notFound {
            throw WireError(.notFound, "no model \(id)")
        }
    }
}
