import TributaryModel

/// Receives the chunks of updates for one job and hands back each update only when it is
/// complete and checked — nothing half-received is ever returned.
///
/// Each chunk is read once (`UpdateValidation.ingest`): its XXH3-64, checked against the
/// frame's claimed checksum, the finite check of its values and, for multi-chunk uploads, the
/// copy into staging happen in one cache-sized pass; the update's checksum is then checked
/// from the chunk checksums (`Checksum.combine`) without hashing its bytes again. A
/// single-chunk update (the model fits in one chunk) is returned as a view of the frame's
/// payload with no copy at all. A multi-chunk update is staged in a buffer of the model's
/// size; the number of uploads staged at once is bounded by `maxStagingBytes`, and a sender
/// that finds no room gets `.busy` and retries, so memory stays O(model), not O(clients × model).
/// Not thread-safe: owned by one actor.
public struct UploadAssembler {
    /// A complete update, checked for layout and checksum (not yet for values: the
    /// accumulator validates those before folding).
    public struct Complete {
        public let meta: UploadChunk
        /// Valid while the frame of the last chunk is alive, or as long as `staging` holds them.
        public let bytes: UnsafeRawBufferPointer
        /// The staged bytes of a multi-chunk upload, which a consumer may `take()` instead of
        /// copying (then `bytes` is invalid); nil for a single-chunk view.
        public let staging: StagingBuffer?
        /// The first float tensor found holding a NaN or ∞; nil when every value is finite.
        public let nonFiniteTensor: String?
    }

    public enum Outcome {
        case stored(chunksReceived: Int)
        case complete(Complete)
    }

    /// An upload in progress, or only reserved (`meta` nil until its first chunk arrives).
    private struct Open {
        var meta: UploadChunk?
        var buffer: StagingBuffer
        var received: [Bool]
        var receivedCount: Int
        var chunkChecksums: [UInt64]
        var nonFiniteTensor: String?
        var lastActivity: ContinuousClock.Instant
    }

    public let spec: ModelSpec
    public let plan: ChunkPlan
    public let maxStagingBytes: Int
    private let offsets: [Int]
    private var open: [String: Open] = [:]

    public init(spec: ModelSpec, chunkSize: Int, maxStagingBytes: Int) {
        self.spec = spec
        self.plan = ChunkPlan(spec: spec, chunkSize: chunkSize)
        self.maxStagingBytes = maxStagingBytes
        self.offsets = spec.offsets
    }

    /// Bytes held elsewhere against the same budget: complete updates a combiner is still
    /// forwarding to the controller (robust rules). New uploads wait (`busy`) for room.
    public var reservedBytes = 0

    /// Bytes held by partly received (or reserved) uploads.
    public var stagedBytes: Int { open.count * spec.totalBytes }
    public var openUploads: Int { open.count }

    /// Keeps room for `sender`'s update before it sends any chunk (`UploadSlotRequest`);
    /// throws `.busy` when the budget is used up. Asking again refreshes the reservation.
    public mutating func reserve(sender: String, now: ContinuousClock.Instant = .now) throws(WireError) {
        if open[sender] != nil {
            open[sender]!.lastActivity = now
            return
        }
        guard stagedBytes + reservedBytes + spec.totalBytes <= max(maxStagingBytes, spec.totalBytes) else {
            throw WireError(.busy, "no upload slot free (\(open.count) uploads admitted); retry")
        }
        // Staging is allocated lazily (`StagingBuffer` does not touch its pages until chunks land).
        open[sender] = Open(meta: nil, buffer: StagingBuffer(count: plan.chunks.count == 1 ? 0 : spec.totalBytes),
                            received: Array(repeating: false, count: plan.chunks.count), receivedCount: 0,
                            chunkChecksums: Array(repeating: 0, count: plan.chunks.count), lastActivity: now)
    }

    /// Takes one chunk. `claimedChecksum` is the XXH3-64 its frame header claims for it (not
    /// yet verified: upload frames are checked here, in the same pass as everything else);
    /// nil for chunks from inside this process. Throws `.rejected` for a chunk that does not
    /// fit the job's layout or contradicts earlier chunks, `.checksumMismatch` when a chunk or
    /// the assembled update does not match its checksum, and `.busy` when no staging room is free.
    public mutating func receive(_ meta: UploadChunk, payload: UnsafeRawBufferPointer, claimedChecksum: UInt64? = nil,
                                 now: ContinuousClock.Instant = .now) throws(WireError) -> Outcome {
        try checkLayout(meta, payloadCount: payload.count)
        guard let expected = meta.checksumValue else { throw WireError(.malformed, "checksum '\(meta.checksum)' is not hex") }

        if plan.chunks.count == 1 {
            // Zero-copy unless it must be kept for forwarding: then it counts against the budget
            // (a reservation made for it is used now).
            let reserved = open.removeValue(forKey: meta.sender) != nil
            guard reserved || reservedBytes == 0 || stagedBytes + reservedBytes + spec.totalBytes <= max(maxStagingBytes, spec.totalBytes) else {
                throw WireError(.busy, "no upload slot free (updates being forwarded); retry")
            }
            let ingested = try ingest(payload, at: 0, into: nil)
            guard ingested.checksum == expected, claimedChecksum.map({ $0 == ingested.checksum }) ?? true else {
                throw WireError(.checksumMismatch, "update checksum mismatch")
            }
            return .complete(Complete(meta: meta, bytes: payload, staging: nil, nonFiniteTensor: ingested.nonFiniteTensor))
        }

        var upload: Open
        if var existing = open[meta.sender] {
            let first = existing.meta ?? meta  // a reservation takes the first chunk's header
            existing.meta = first
            guard first.checksum == meta.checksum, first.weight == meta.weight,
                  first.totalBytes == meta.totalBytes, first.metrics == meta.metrics,
                  first.contributors == meta.contributors
            else {
                open[meta.sender] = nil
                throw WireError(.rejected, "chunk \(meta.index) contradicts the earlier chunks of this upload; upload dropped")
            }
            upload = existing
        } else {
            guard stagedBytes + reservedBytes + spec.totalBytes <= max(maxStagingBytes, spec.totalBytes) else {
                throw WireError(.busy, "no upload slot free (\(open.count) uploads in progress); retry")
            }
            upload = Open(meta: meta, buffer: StagingBuffer(count: spec.totalBytes), received: Array(repeating: false, count: plan.chunks.count),
                          receivedCount: 0, chunkChecksums: Array(repeating: 0, count: plan.chunks.count), lastActivity: now)
        }
        upload.lastActivity = now
        if !upload.received[meta.index] {
            let ingested = try ingest(payload, at: meta.offset, into: upload.buffer.base.map { $0 + meta.offset })
            guard claimedChecksum.map({ $0 == ingested.checksum }) ?? true else {
                open[meta.sender] = upload
                throw WireError(.checksumMismatch, "chunk \(meta.index) fails its checksum; send it again")
            }
            upload.received[meta.index] = true
            upload.receivedCount += 1
            upload.chunkChecksums[meta.index] = ingested.checksum
            upload.nonFiniteTensor = upload.nonFiniteTensor ?? ingested.nonFiniteTensor
        }
        guard upload.receivedCount == plan.chunks.count else {
            open[meta.sender] = upload
            return .stored(chunksReceived: upload.receivedCount)
        }
        open[meta.sender] = nil
        guard Checksum.combine(chunkChecksums: upload.chunkChecksums) == expected else {
            throw WireError(.checksumMismatch, "assembled update checksum mismatch; upload dropped")
        }
        return .complete(Complete(meta: upload.meta ?? meta, bytes: upload.buffer.view(count: spec.totalBytes), staging: upload.buffer,
                                  nonFiniteTensor: upload.nonFiniteTensor))
    }

    private func ingest(_ payload: UnsafeRawBufferPointer, at offset: Int, into destination: UnsafeMutableRawPointer?) throws(WireError) -> UpdateValidation.Ingested {
        do throws(ModelError) {
            return try UpdateValidation.ingest(payload, at: offset, spec: spec, offsets: offsets, copyTo: destination)
        } catch {
            throw WireError(.rejected, error.description)
        }
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
