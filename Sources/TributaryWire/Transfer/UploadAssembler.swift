import TributaryModel

/// Receives the chunks of updates for one job and hands back each update only when it is
/// complete and checked — nothing half-received is ever returned.
///
/// A single-chunk update (the model fits in one chunk) is returned as a view of the frame's
/// payload with no copy at all. A multi-chunk update is staged in a buffer of the model's
/// size; the number of uploads staged at once is bounded by `maxStagingBytes`, and a sender
/// that finds no room gets `.busy` and retries, so memory stays O(model), not O(clients × model).
/// Not thread-safe: owned by one actor.
public struct UploadAssembler {
    /// A complete update, checked for layout and checksum (not yet for values: the
    /// accumulator validates those before folding).
    public struct Complete {
        public let meta: UploadChunk
        /// Valid while the frame of the last chunk is alive, or as long as `staging` is.
        public let bytes: UnsafeRawBufferPointer
        let staging: StagingBuffer?
    }

    public enum Outcome {
        case stored(chunksReceived: Int)
        case complete(Complete)
    }

    private struct Open {
        var meta: UploadChunk
        var buffer: StagingBuffer
        var received: [Bool]
        var receivedCount: Int
        var lastActivity: ContinuousClock.Instant
    }

    public let spec: ModelSpec
    public let plan: ChunkPlan
    public let maxStagingBytes: Int
    private var open: [String: Open] = [:]

    public init(spec: ModelSpec, chunkSize: Int, maxStagingBytes: Int) {
        self.spec = spec
        self.plan = ChunkPlan(spec: spec, chunkSize: chunkSize)
        self.maxStagingBytes = maxStagingBytes
    }

    /// Bytes held elsewhere against the same budget: complete updates a combiner is still
    /// forwarding to the controller (robust rules). New uploads wait (`busy`) for room.
    public var reservedBytes = 0

    /// Bytes held by partly received uploads.
    public var stagedBytes: Int { open.count * spec.totalBytes }
    public var openUploads: Int { open.count }

    /// Takes one chunk. Throws `.rejected` for a chunk that does not fit the job's layout or
    /// contradicts earlier chunks, `.checksumMismatch` when the assembled update does not
    /// match its checksum, and `.busy` when no staging room is free.
    public mutating func receive(_ meta: UploadChunk, payload: UnsafeRawBufferPointer, now: ContinuousClock.Instant = .now) throws(WireError) -> Outcome {
        try checkLayout(meta, payloadCount: payload.count)
        guard let expected = meta.checksumValue else { throw WireError(.malformed, "checksum '\(meta.checksum)' is not hex") }

        if plan.chunks.count == 1 {
            // Zero-copy unless it must be kept for forwarding: then it counts against the budget.
            guard reservedBytes == 0 || stagedBytes + reservedBytes + spec.totalBytes <= max(maxStagingBytes, spec.totalBytes) else {
                throw WireError(.busy, "no upload slot free (updates being forwarded); retry")
            }
            guard Checksum.xxh3(payload) == expected else { throw WireError(.checksumMismatch, "update checksum mismatch") }
            return .complete(Complete(meta: meta, bytes: payload, staging: nil))
        }

        var upload: Open
        if let existing = open[meta.sender] {
            guard existing.meta.checksum == meta.checksum, existing.meta.weight == meta.weight,
                  existing.meta.totalBytes == meta.totalBytes, existing.meta.metrics == meta.metrics,
                  existing.meta.contributors == meta.contributors
            else {
                open[meta.sender] = nil
                throw WireError(.rejected, "chunk \(meta.index) contradicts the earlier chunks of this upload; upload dropped")
            }
            upload = existing
        } else {
            guard stagedBytes + reservedBytes + spec.totalBytes <= max(maxStagingBytes, spec.totalBytes) else {
                throw WireError(.busy, "no upload slot free (\(open.count) uploads in progress); retry")
            }
            upload = Open(meta: meta, buffer: StagingBuffer(count: spec.totalBytes), received: Array(repeating: false, count: plan.chunks.count), receivedCount: 0, lastActivity: now)
        }
        if !upload.received[meta.index] {
            upload.buffer.store(payload, at: meta.offset)
            upload.received[meta.index] = true
            upload.receivedCount += 1
        }
        upload.lastActivity = now
        guard upload.receivedCount == plan.chunks.count else {
            open[meta.sender] = upload
            return .stored(chunksReceived: upload.receivedCount)
        }
        open[meta.sender] = nil
        let bytes = upload.buffer.view(count: spec.totalBytes)
        guard Checksum.xxh3(bytes) == expected else { throw WireError(.checksumMismatch, "assembled update checksum mismatch; upload dropped") }
        return .complete(Complete(meta: upload.meta, bytes: bytes, staging: upload.buffer))
    }

    /// Drops uploads that have been silent for longer than `idle` (a sender that died
    /// mid-upload must not hold its staging memory forever). Returns the senders dropped.
    public mutating func dropIdle(olderThan idle: Duration, now: ContinuousClock.Instant = .now) -> [String] {
        let stale = open.filter { now - $0.value.lastActivity > idle }.map(\.key)
        for sender in stale { open[sender] = nil }
        return stale
    }

    /// Drops the partly received upload of one sender, if any.
    public mutating func drop(sender: String) { open[sender] = nil }

    private func checkLayout(_ meta: UploadChunk, payloadCount: Int) throws(WireError) {
        guard meta.totalBytes == spec.totalBytes else {
            throw WireError(.rejected, "update has \(meta.totalBytes) bytes, the model has \(spec.totalBytes)")
        }
        guard meta.chunkCount == plan.chunks.count else {
            throw WireError(.rejected, "update is in \(meta.chunkCount) chunks, expected \(plan.chunks.count)")
        }
        guard meta.index >= 0, meta.index < plan.chunks.count else {
            throw WireError(.rejected, "chunk index \(meta.index) out of range")
        }
        let range = plan.chunks[meta.index]
        guard meta.offset == range.lowerBound, payloadCount == range.count else {
            throw WireError(.rejected, "chunk \(meta.index) covers \(meta.offset)..<\(meta.offset + payloadCount), expected \(range)")
        }
        guard meta.weight > 0, meta.weight.isFinite else {
            throw WireError(.rejected, "weight must be a positive number of examples, got \(meta.weight)")
        }
    }
}
