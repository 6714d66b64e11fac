import Logging
import TributaryModel
import TributaryWire

/// Answers clients on the combiner's REP socket. Each message kind is decoded and handled
/// here, in one place; anything malformed gets an error reply and a log line. When the
/// network requires peer tokens, each request's must be a client's and name the client the
/// request speaks for (`gate`).
struct CombinerRequestHandler: Sendable {
    let name: String
    let state: CombinerState
    let gate: PeerGate
    let logger: Logger

    func handle(_ message: Message) async -> Message {
        await RequestHandling.reply(to: message, logger: logger, reply(to:))
    }

    private func reply(to frame: Frame) async throws -> Message {
        switch frame.kind {
        case .clientRegister:
            let request = try frame.decodeMetadata(ClientRegister.self)
            guard !request.clientId.isEmpty, request.clientId.utf8.count <= 256 else {
                throw WireError(.malformed, "client id must be 1 to 256 bytes")
            }
            try await gate.check(frame, .client, as: request.clientId)
            await state.registerClient(id: request.clientId, name: request.name)
            return try Frame.encode(.clientRegistered, ClientRegistered(combiner: name, heartbeatSeconds: await state.heartbeatSeconds()))

        case .clientHeartbeat:
            let beat = try frame.decodeMetadata(ClientHeartbeat.self)
            try await gate.check(frame, .client, as: beat.clientId)
            let (known, task) = await state.clientHeartbeat(id: beat.clientId)
            return try Frame.encode(.clientHeartbeatReply, ClientHeartbeatReply(task: task, mustRegister: !known, heartbeatSeconds: await state.heartbeatSeconds()))

        case .getModelInfo:
            let request = try frame.decodeMetadata(GetModelInfo.self)
            try await gate.check(frame, .client, as: nil)
            guard let (model, checksum, _) = await state.model(id: request.modelId) else {
                throw WireError(.notFound, "model \(request.modelId) is not served here now")
            }
            return try ModelTransfer.infoReply(modelId: request.modelId, spec: model.spec, chunkSize: request.chunkSize, checksum: checksum)

        case .getModelChunk:
            let request = try frame.decodeMetadata(GetModelChunk.self)
            // Once per request, as whom it names: each check also takes a rate-limit token.
            try await gate.check(frame, .client, as: request.requester)
            guard let (model, _, checksums) = await state.model(id: request.modelId) else {
                throw WireError(.notFound, "model \(request.modelId) is not served here now")
            }
            if let requester = request.requester,
               let bytes = FlowControl.countedChunkBytes(chunkSize: request.chunkSize, totalBytes: model.spec.totalBytes) {
                try await state.downloads.room.admit(patience: .seconds(2)) { try state.downloads.acquire(requester, bytes: bytes) }
            }
            return try ModelTransfer.chunkReply(request, served: model, checksums: checksums)

        case .modelReceived:
            let receipt = try frame.decodeMetadata(ModelReceived.self)
            try await gate.check(frame, .client, as: receipt.requester)
            state.downloads.release(receipt.requester)
            return try Frame.encode(.ack, Empty())

        case .submitUpdate:
            let meta = try frame.decodeMetadata(UploadChunk.self)
            try await gate.check(frame, .client, as: meta.sender)
            await state.noteActivity(meta.sender)
            switch try await state.uploadRoom.admit({ try await state.receiveUpdate(meta, frame: frame) }) {
            case .receipt(let receipt):
                return try Frame.encode(.uploadReceipt, receipt)
            case .forward(let update, let header, let forward):
                // Forwarded before the last chunk is acknowledged: the client learns whether its
                // update counted, and the combiner holds no more than its staging budget.
                var failure: String?
                do { try await forward(update, header) } catch { failure = "\(error)" }
                guard let receipt = await state.finishForward(jobId: header.jobId, sender: header.sender, error: failure) else {
                    throw WireError(.rejected, failure.map { "could not forward the update: \($0)" } ?? "job \(header.jobId) closed while the update was forwarded")
                }
                return try Frame.encode(.uploadReceipt, receipt)
            }

        case .requestUploadSlot:
            let request = try frame.decodeMetadata(UploadSlotRequest.self)
            try await gate.check(frame, .client, as: request.sender)
            await state.noteActivity(request.sender)
            // A short wait inside: a slot request is small, but it holds a REP context.
            try await state.uploadRoom.admit(patience: .seconds(1)) { try await state.reserveUploadSlot(request) }
            return try Frame.encode(.ack, Empty())

        case .submitValidation:
            let report = try frame.decodeMetadata(ValidationReport.self)
            try await gate.check(frame, .client, as: report.clientId)
            try await state.receiveValidation(report)
            return try Frame.encode(.ack, Empty())

        case .taskFailed:
            let failure = try frame.decodeMetadata(TaskFailure.self)
            try await gate.check(frame, .client, as: failure.clientId)
            try await state.clientFailed(failure)
            return try Frame.encode(.ack, Empty())

        case .secaggKeys, .secaggBundles, .secaggMasked, .secaggUnmask, .secaggPoll:
            let request = try frame.decodeMetadata(SecAggRequest.self)
            try await gate.check(frame, .client, as: request.clientId)
            await state.noteActivity(request.clientId)
            return try Frame.encode(.secaggState, try await state.secureAggregation(frame.kind, request, payload: frame.payload))

        default:
            throw WireError(.unexpectedKind, "a combiner does not serve \(frame.kind)")
        }
    }
}
