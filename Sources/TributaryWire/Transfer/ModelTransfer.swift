import Foundation
import Synchronization
import TributaryModel

/// Serving a model in chunks (controller → combiners, combiner → clients) and fetching one.
public enum ModelTransfer {
    /// The reply to `getModelInfo` for a model of layout `spec`.
    public static func infoReply(modelId: String, spec: ModelSpec, chunkSize: Int, checksum: UInt64) throws -> Message {
        let plan = ChunkPlan(spec: spec, chunkSize: chunkSize)
        let info = ModelInfo(modelId: modelId, spec: spec, totalBytes: spec.totalBytes, chunkCount: plan.chunks.count, checksum: checksum)
        return try Frame.encode(.modelInfo, info)
    }

    /// The reply to `getModelChunk`: one chunk of the flat data, copied once into the message.
    /// `checksums` (a `ServedModel`'s) saves hashing the chunk again for every client.
    public static func chunkReply(_ request: GetModelChunk, model: Model, checksums: ChunkChecksumCache? = nil) throws -> Message {
        try chunkReply(request, served: .memory(model), checksums: checksums)
    }

    /// `chunkReply` from memory or from a spooled file, read straight into the message.
    public static func chunkReply(_ request: GetModelChunk, served: ServedModel, checksums: ChunkChecksumCache? = nil) throws -> Message {
        guard request.chunkSize >= 64, request.chunkSize <= Frame.defaultMaxPayload else {
            throw WireError(.malformed, "chunk size \(request.chunkSize) is outside 64...\(Frame.defaultMaxPayload)")
        }
        let plan = ChunkPlan(spec: served.spec, chunkSize: request.chunkSize)
        guard request.index >= 0, request.index < plan.chunks.count else {
            throw WireError(.malformed, "chunk index \(request.index) out of range 0..<\(plan.chunks.count)")
        }
        let range = plan.chunks[request.index]
        return try Frame.encode(.modelChunk, ModelChunk(modelId: request.modelId, index: request.index, offset: range.lowerBound),
                                payloadCount: range.count,
                                checksum: { checksums?.checksum(of: request.index, plan: plan, payload: $0) ?? Checksum.xxh3($0) },
                                fill: { try served.copy(range, into: $0) })
    }

    /// Downloads a model chunk by chunk and checks its layout and checksum before returning it.
    /// With a `requester` (a client at its combiner) chunks of 64 KiB and more count against
    /// the server's download budget (`FlowControl`): a `busy` chunk request is retried with
    /// back-off, and the end is confirmed with `modelReceived`; `patience` bounds how long
    /// `busy` is retried (default `timeout`).
    public static func download(modelId: String, chunkSize: Int, from peer: PeerConnection, timeout: Duration,
                                requester: String? = nil, patience: Duration? = nil) async throws -> Model {
        try await downloadChecked(modelId: modelId, chunkSize: chunkSize, from: peer, timeout: timeout, requester: requester, patience: patience).model
    }

    /// `download`, also returning the model's checksum (checked), so a tier that serves the
    /// model on need not hash it again.
    public static func downloadChecked(modelId: String, chunkSize: Int, from peer: PeerConnection, timeout: Duration,
                                       requester: String? = nil, patience: Duration? = nil) async throws -> (model: Model, checksum: UInt64) {
        let info = try await peer.call(.getModelInfo, GetModelInfo(modelId: modelId, chunkSize: chunkSize),
                                       expecting: .modelInfo, as: ModelInfo.self, timeout: timeout)
        try info.spec.validate()
        guard info.totalBytes == info.spec.totalBytes, let expected = info.checksumValue else {
            throw WireError(.malformed, "model info for \(modelId) is inconsistent")
        }
        let plan = ChunkPlan(spec: info.spec, chunkSize: chunkSize)
        guard plan.chunks.count == info.chunkCount else {
            throw WireError(.malformed, "model \(modelId) has \(info.chunkCount) chunks, expected \(plan.chunks.count)")
        }
        // Not zeroed first: the plan's chunks cover every byte once, and a failed download is dropped.
        var data = [UInt8](unsafeUninitializedCapacity: info.totalBytes) { _, initialized in initialized = info.totalBytes }
        var chunkChecksums: [UInt64] = []
        for (index, range) in plan.chunks.enumerated() {
            let frame = try await fetchChunk(GetModelChunk(modelId: modelId, chunkSize: chunkSize, index: index, requester: requester),
                                             from: peer, timeout: timeout, patience: patience ?? timeout)
            let meta = try frame.decodeMetadata(ModelChunk.self)
            guard meta.index == index, meta.offset == range.lowerBound, frame.payload.count == range.count else {
                throw WireError(.malformed, "chunk \(index) of model \(modelId) does not cover \(range)")
            }
            if !range.isEmpty {
                data.withUnsafeMutableBytes { dst in
                    dst.baseAddress!.advanced(by: range.lowerBound).copyMemory(from: frame.payload.baseAddress!, byteCount: range.count)
                }
            }
            chunkChecksums.append(frame.payloadChecksum)
        }
        // One chunk: its frame checksum (checked at decode) is the model's. More: hash again.
        let checksum = chunkChecksums.count == 1 && !data.isEmpty ? chunkChecksums[0] : Checksum.xxh3(data)
        guard checksum == expected else { throw WireError(.checksumMismatch, "model \(modelId) failed its checksum") }
        if let requester, FlowControl.countedChunkBytes(chunkSize: chunkSize, totalBytes: info.totalBytes) != nil {
            _ = try await peer.call(.modelReceived, ModelReceived(modelId: modelId, requester: requester), expecting: .ack, timeout: timeout)
        }
        return (try Model(spec: info.spec, data: data), checksum)
    }

    /// One chunk; `busy` (the server's download budget is in use) and `rate_limited` are
    /// retried with jittered back-off (5 ms doubling to 1 s: thousands of waiting clients must
    /// not keep the server busy refusing them) for up to `patience`.
    private static func fetchChunk(_ request: GetModelChunk, from peer: PeerConnection, timeout: Duration, patience: Duration) async throws -> Frame {
        try await RetryWhileRefused.run(from: .milliseconds(5), cap: .seconds(1), until: .now + patience) {
            try await peer.call(.getModelChunk, request, expecting: .modelChunk, timeout: timeout)
        }
    }

    /// Uploads an update (or partial aggregate) chunk by chunk. Each chunk is hashed once: its
    /// XXH3 goes in its frame, and the header's `checksum` is combined from them
    /// (`Checksum.combine`; whatever `header` says is replaced). A `.busy` answer (no staging
    /// room at the receiver) or `rate_limited` is retried with back-off until `deadline`; any
    /// other error ends the upload and is thrown.
    ///
    /// With `reserveSlot` the receiver is first asked for room (`requestUploadSlot`, retried
    /// while `busy`), so the update's bytes leave only once they can be taken at once.
    public static func upload(
        _ model: Model, kind: MessageKind, header: UploadChunk, chunkSize: Int, to peer: PeerConnection,
        timeout: Duration, deadline: ContinuousClock.Instant, reserveSlot: Bool = false
    ) async throws -> UploadReceipt {
        if reserveSlot {
            let request = UploadSlotRequest(jobId: header.jobId, sessionId: header.sessionId, round: header.round, sender: header.sender,
                                            totalBytes: model.spec.totalBytes)
            // Jittered, and up to 1 s: ten thousand clients refused at once must neither come back
            // at once nor keep the combiner busy refusing them (5,000 clients at a 200 ms cap
            // were 25,000 refusals a second).
            _ = try await RetryWhileRefused.run(from: .milliseconds(10), cap: .seconds(1), until: deadline) {
                try await peer.call(.requestUploadSlot, request, expecting: .ack, timeout: timeout)
            }
        }
        let plan = ChunkPlan(spec: model.spec, chunkSize: chunkSize)
        let checksums = model.data.withUnsafeBytes { plan.checksums(of: $0) }
        let updateChecksum = String(Checksum.combine(chunkChecksums: checksums), radix: 16)
        var receipt = UploadReceipt(status: .stored, chunksReceived: 0)
        for (index, range) in plan.chunks.enumerated() {
            var meta = header
            meta.checksum = updateChecksum
            meta.index = index
            meta.chunkCount = plan.chunks.count
            meta.offset = range.lowerBound
            meta.totalBytes = model.spec.totalBytes
            let chunk = meta
            receipt = try await RetryWhileRefused.run(from: .milliseconds(20), cap: .milliseconds(250), jitter: 1...1, until: deadline) {
                // A fresh message per attempt: nng owns a message once it is sent.
                let request = try model.data.withUnsafeBytes { raw in
                    try peer.encode(kind, chunk, payload: UnsafeRawBufferPointer(rebasing: raw[range]), payloadChecksum: checksums[index])
                }
                return try await peer.send(request, expecting: .uploadReceipt, timeout: timeout).decodeMetadata(UploadReceipt.self)
            }
        }
        return receipt
    }
}

/// The XXH3-64 of each chunk of one served model, per chunk size asked for, computed at the
/// first request: a model served to many clients is hashed once, not once per client.
public final class ChunkChecksumCache: Sendable {
    private let cache = Mutex<[Int: [UInt64?]]>([:])

    public init() {}

    func checksum(of index: Int, plan: ChunkPlan, payload: UnsafeRawBufferPointer) -> UInt64 {
        if let known = cache.withLock({ $0[plan.chunkSize]?[index] }) { return known }
        let value = payload.isEmpty ? 0 : Checksum.xxh3(payload)
        cache.withLock { entries in
            var row = entries[plan.chunkSize] ?? Array(repeating: nil, count: plan.count)
            row[index] = value
            entries[plan.chunkSize] = row
        }
        return value
    }
}
