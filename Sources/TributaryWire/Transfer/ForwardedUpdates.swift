import Foundation
import TributaryModel

/// At the controller, for robust rules (`AggregationMode.forward`): every client update the
/// combiners forward for one training job, spilled to disk as it completes (`SpilledUpdates`)
/// because the rules (median, trimmed mean, Krum, Bulyan) need all of them at once.
///
/// Memory is the staging of the uploads in flight (bounded by `maxStagingBytes` like any
/// upload: senders get `busy` and retry), not n × model; the disk holds n × model until the
/// round's aggregate is built. Every update is checked again here (layout, checksum, finite
/// values, positive weight): input from a peer is hostile. Not thread-safe: owned by one actor.
public struct ForwardedUpdates {
    public struct Entry: Sendable {
        public var client: String
        public var combiner: String
        /// The update's index in `spill`.
        public var index: Int
        public var weight: Double
    }

    public let order: JobOrder
    public private(set) var entries: [Entry] = []
    /// Where the updates are, in arrival order.
    public let spill: SpilledUpdates
    private var assembler: UploadAssembler

    /// `spillDirectory` must not exist yet; it is removed when the last reference to `spill` goes.
    public init(order: JobOrder, spec: ModelSpec, maxStagingBytes: Int, spillDirectory: URL) throws(ModelError) {
        self.order = order
        spill = try SpilledUpdates(spec: spec, directory: spillDirectory)
        assembler = UploadAssembler(spec: spec, chunkSize: order.chunkSize, maxStagingBytes: maxStagingBytes)
    }

    /// Takes one chunk of a forwarded update (`meta.sender` is the client, `meta.via` the
    /// combiner, which the caller has checked is a pending participant).
    public mutating func receive(_ meta: UploadChunk, payload: UnsafeRawBufferPointer, claimedChecksum: UInt64? = nil) throws(WireError) -> UploadReceipt {
        guard meta.jobId == order.jobId, meta.sessionId == order.sessionId, meta.round == order.round, order.aggregation == .forward else {
            throw WireError(.unknownJob, "forwarded update for job \(meta.jobId) does not belong to the open job \(order.jobId)")
        }
        guard let combiner = meta.via, !combiner.isEmpty else { throw WireError(.malformed, "a forwarded update must name its combiner (via)") }
        guard !entries.contains(where: { $0.client == meta.sender }) else {
            throw WireError(.duplicate, "\(meta.sender)'s update for job \(order.jobId) was already forwarded")
        }
        switch try assembler.receive(meta, payload: payload, claimedChecksum: claimedChecksum) {
        case .stored(let count):
            return UploadReceipt(status: .stored, chunksReceived: count)
        case .complete(let complete):
            do throws(ModelError) {
                if let tensor = complete.nonFiniteTensor { throw .nonFinite(tensor: tensor) }
                let index = try spill.append(complete.bytes)
                entries.append(Entry(client: complete.meta.sender, combiner: combiner, index: index, weight: complete.meta.weight))
            } catch {
                throw WireError(.rejected, error.description)
            }
            return UploadReceipt(status: .accepted, chunksReceived: complete.meta.chunkCount)
        }
    }
}
