import TributaryModel

/// At the controller, for robust rules (`AggregationMode.forward`): every client update the
/// combiners forward for one training job, kept whole because the rules (median, trimmed
/// mean, Krum, Bulyan) need all of them at once.
///
/// Memory is O(n × model) for n client updates — the price of an exact robust rule over all
/// clients (a combiner-local rule would not be the same function). Partly received uploads
/// are bounded by `maxStagingBytes` like any upload (senders get `busy` and retry). Every
/// update is checked again here (layout, checksum, finite values, positive weight): input
/// from a peer is hostile. Not thread-safe: owned by one actor.
public struct ForwardedUpdates {
    public struct Entry: Sendable {
        public var client: String
        public var combiner: String
        public var model: Model
        public var weight: Double
    }

    public let order: JobOrder
    public private(set) var entries: [Entry] = []
    private var assembler: UploadAssembler

    public init(order: JobOrder, spec: ModelSpec, maxStagingBytes: Int) {
        self.order = order
        assembler = UploadAssembler(spec: spec, chunkSize: order.chunkSize, maxStagingBytes: maxStagingBytes)
    }

    /// Takes one chunk of a forwarded update (`meta.sender` is the client, `meta.via` the
    /// combiner, which the caller has checked is a pending participant).
    public mutating func receive(_ meta: UploadChunk, payload: UnsafeRawBufferPointer) throws(WireError) -> UploadReceipt {
        guard meta.jobId == order.jobId, meta.sessionId == order.sessionId, meta.round == order.round, order.aggregation == .forward else {
            throw WireError(.unknownJob, "forwarded update for job \(meta.jobId) does not belong to the open job \(order.jobId)")
        }
        guard let combiner = meta.via, !combiner.isEmpty else { throw WireError(.malformed, "a forwarded update must name its combiner (via)") }
        guard !entries.contains(where: { $0.client == meta.sender }) else {
            throw WireError(.duplicate, "\(meta.sender)'s update for job \(order.jobId) was already forwarded")
        }
        switch try assembler.receive(meta, payload: payload) {
        case .stored(let count):
            return UploadReceipt(status: .stored, chunksReceived: count)
        case .complete(let complete):
            do throws(ModelError) {
                try UpdateValidation.validate(complete.bytes, spec: assembler.spec)
                let model = try Model(spec: assembler.spec, data: [UInt8](complete.bytes))
                entries.append(Entry(client: complete.meta.sender, combiner: combiner, model: model, weight: complete.meta.weight))
            } catch {
                throw WireError(.rejected, error.description)
            }
            return UploadReceipt(status: .accepted, chunksReceived: complete.meta.chunkCount)
        }
    }
}
