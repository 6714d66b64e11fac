import TributaryModel

/// Collects the results of one job at one tier — client updates at a combiner, partial
/// aggregates at the controller — and folds each accepted update into a running FedAvg.
///
/// The same code serves both tiers because FedAvg is decomposable: a combiner reports
/// x̄_c = Σ_{i∈c} nᵢxᵢ / N_c with weight N_c = Σ_{i∈c} nᵢ, and folding those partials with
/// their weights gives Σ_c N_c·x̄_c / Σ_c N_c = Σᵢ nᵢxᵢ / Σᵢ nᵢ, the flat FedAvg over all
/// clients. Metrics are folded the same way (example-weighted means).
///
/// An update is checked (job, round, sender, layout, checksum, finite values, weight and, at
/// the combiner, the norm of its delta from the round's model) before anything is folded; a
/// rejected update never touches the aggregate. With central DP (`order.clipNorm`) each client
/// delta is clipped and every update weighs 1, so the reduce is the unweighted mean σ = z·C/m
/// assumes. For robust rules (`order.aggregation == .forward`) nothing is folded: each valid
/// update is handed back to be forwarded. Not thread-safe: owned by one actor.
public struct JobCollector {
    public struct Result: Sendable {
        public var model: Model?
        public var weight: Double
        public var metrics: [String: Double]
        /// The senders whose results were folded in.
        public var accepted: [String]
        /// The clients behind the folded results (at the controller: all clients of all partials).
        public var contributors: [String]
        public var rejected: [String: String]
        /// The subset of `rejected` whose update failed validation (the rest failed or left).
        public var invalid: [String: String]
        /// Selected senders whose results are not in the aggregate.
        public var excluded: [String]
        /// Each client's own result (at the controller: as the combiners reported them).
        public var clientResults: [ClientResult] = []

        /// `rejected` as status-event material, by client.
        public var issues: [ClientIssue] {
            rejected.keys.sorted().map { ClientIssue(clientId: $0, type: invalid[$0] != nil ? ClientIssue.updateRejected : ClientIssue.taskFailed, reason: rejected[$0]!) }
        }
    }

    /// What became of one chunk.
    public enum ChunkOutcome {
        case receipt(UploadReceipt)
        /// Forward mode: a complete, validated update to forward before it is acknowledged;
        /// report how that went with `finishForward`.
        case forward(Model, UploadChunk)
    }

    public let order: JobOrder
    public let selected: Set<String>
    public private(set) var accepted: [String] = []
    public private(set) var rejected: [String: String] = [:]
    public private(set) var contributors: [String] = []
    public private(set) var invalid: [String: String] = [:]
    public private(set) var isClosed = false
    /// The round's model, at the combiner: client deltas are bounded and clipped against it.
    private let global: Model?
    /// Client updates arrive here (a combiner, the HTTP cohort), not partials: each may be
    /// weighed as one (DP, unweighted sessions).
    private let isClientTier: Bool
    /// Updates being forwarded now, by sender (still pending until `finishForward`).
    private var forwarding: [String: UploadChunk] = [:]
    private var assembler: UploadAssembler?
    private var accumulator: FedAvgAccumulator?
    private var weightSum = 0.0
    private var metricSums: [String: Double] = [:]
    private var clientResults: [ClientResult] = []
    private var metricWeights: [String: Double] = [:]

    /// `spec` is the layout of the job's model (required for training jobs); `global` is the
    /// model itself where client updates arrive (the combiner), nil where partials do.
    /// `clientTier` says client updates arrive here, not partials, also where no norm bound or
    /// clipping needs `global` (a combiner that spooled the model); `global` implies it.
    public init(order: JobOrder, spec: ModelSpec?, selected: Set<String>, maxStagingBytes: Int, global: Model? = nil,
                clientTier: Bool = false) throws(ModelError) {
        self.order = order
        self.selected = selected
        self.global = global
        self.isClientTier = clientTier || global != nil
        if order.kind == .train {
            guard let spec else { throw .invalidSpec("a training job needs the model's layout") }
            if order.aggregation == .sum { accumulator = try FedAvgAccumulator(spec: spec) }
            assembler = UploadAssembler(spec: spec, chunkSize: order.chunkSize, maxStagingBytes: maxStagingBytes)
        }
    }

    /// Senders that have not delivered a final answer yet.
    public var pending: Set<String> { selected.subtracting(accepted).subtracting(rejected.keys) }

    /// True when every selected sender has answered, or `bufferSize` results are in.
    public var isDone: Bool {
        if let buffer = order.bufferSize, buffer > 0, accepted.count >= buffer { return true }
        return pending.isEmpty
    }

    /// Takes one chunk of an update; folds the update when its last chunk arrives (sum mode).
    public mutating func receiveChunk(_ meta: UploadChunk, payload: UnsafeRawBufferPointer, claimedChecksum: UInt64? = nil) throws(WireError) -> UploadReceipt {
        switch try receive(meta, payload: payload, claimedChecksum: claimedChecksum) {
        case .receipt(let receipt):
            return receipt
        case .forward(_, let complete):
            _ = finishForward(sender: complete.sender, error: "this tier does not forward updates")
            throw WireError(.rejected, "job \(order.jobId) forwards updates; use receive(_:payload:)")
        }
    }

    /// Takes one chunk of an update (`claimedChecksum`: what its frame claims, checked here).
    /// When its last chunk arrives the update is validated, then folded (sum mode) or handed
    /// back to be forwarded (forward mode).
    public mutating func receive(_ meta: UploadChunk, payload: UnsafeRawBufferPointer, claimedChecksum: UInt64? = nil) throws(WireError) -> ChunkOutcome {
        try admit(jobId: meta.jobId, sessionId: meta.sessionId, round: meta.round, sender: meta.sender)
        guard order.kind == .train, assembler != nil else {
            throw WireError(.rejected, "job \(order.jobId) is a \(order.kind.rawValue) job and takes no model updates")
        }
        guard forwarding[meta.sender] == nil else { throw WireError(.duplicate, "\(meta.sender)'s update is being forwarded") }
        switch try assembler!.receive(meta, payload: payload, claimedChecksum: claimedChecksum) {
        case .stored(let count):
            return .receipt(UploadReceipt(status: .stored, chunksReceived: count))
        case .complete(let complete):
            // What the upload itself carried (all its chunks agreed on it), not this chunk's word.
            let sender = complete.meta.sender
            // DP weighs every client update equally (see the type's comment), as does an
            // unweighted session; partials keep their weight, the update count.
            let weight = (order.clipNorm != nil || order.unweighted == true) && isClientTier ? 1 : complete.meta.weight
            do throws(ModelError) {
                if let tensor = complete.nonFiniteTensor { throw .nonFinite(tensor: tensor) }
                let update = try checked(complete)
                if order.aggregation == .forward, let update {
                    forwarding[sender] = complete.meta
                    assembler!.reservedBytes += update.spec.totalBytes
                    return .forward(update, complete.meta)
                }
                if let update {
                    try accumulator!.add(update, weight: weight)
                } else if let staging = complete.staging {
                    // The staged upload becomes the sum (first update) or is folded and freed.
                    var bytes = staging.take()
                    try accumulator!.add(taking: &bytes, weight: weight)
                } else {
                    try accumulator!.add(finite: complete.bytes, weight: weight)
                }
            } catch {
                rejected[sender] = error.description
                invalid[sender] = error.description
                Telemetry.updatesRejected.increment()
                throw WireError(.rejected, error.description)
            }
            record(sender: sender, weight: weight, metrics: complete.meta.metrics, contributors: complete.meta.contributors,
                   clientResults: complete.meta.clientResults)
            return .receipt(UploadReceipt(status: .accepted, chunksReceived: complete.meta.chunkCount))
        }
    }

    /// Keeps staging room for an update before its chunks are sent (`UploadSlotRequest`):
    /// the same checks as its chunks will meet, then a reservation, or `.busy`.
    public mutating func reserveUpload(_ request: UploadSlotRequest) throws(WireError) {
        try admit(jobId: request.jobId, sessionId: request.sessionId, round: request.round, sender: request.sender)
        guard order.kind == .train, assembler != nil else {
            throw WireError(.rejected, "job \(order.jobId) is a \(order.kind.rawValue) job and takes no model updates")
        }
        guard request.totalBytes == assembler!.spec.totalBytes else {
            throw WireError(.rejected, "update has \(request.totalBytes) bytes, the model has \(assembler!.spec.totalBytes)")
        }
        guard forwarding[request.sender] == nil else { throw WireError(.duplicate, "\(request.sender)'s update is being forwarded") }
        try assembler!.reserve(sender: request.sender)
    }

    /// Ends the forwarding of `sender`'s update: it counts if the next tier took it (`error`
    /// nil), else the sender is rejected. Returns the receipt for the sender, or nil if the
    /// job closed meanwhile.
    public mutating func finishForward(sender: String, error: String?) -> UploadReceipt? {
        guard let meta = forwarding.removeValue(forKey: sender) else { return nil }
        assembler?.reservedBytes -= meta.totalBytes
        guard !isClosed else { return nil }
        if let error {
            rejected[sender] = "could not forward the update: \(error)"
            return nil
        }
        record(sender: sender, weight: meta.weight, metrics: meta.metrics, contributors: meta.contributors)
        return UploadReceipt(status: .accepted, chunksReceived: meta.chunkCount)
    }

    /// Checks what a complete update (its values already found finite) needs beyond that: the
    /// norm bound and clipping of its delta. Returns the (clipped) update when it had to be
    /// materialised (those checks, or forwarding), else nil.
    private func checked(_ complete: UploadAssembler.Complete) throws(ModelError) -> Model? {
        guard let spec = assembler?.spec, order.aggregation == .forward || (global != nil && (order.maxUpdateNorm != nil || order.clipNorm != nil)) else {
            return nil
        }
        var update = try Model(spec: spec, data: complete.staging?.take() ?? [UInt8](complete.bytes))
        guard let global else { return update }
        if let bound = order.maxUpdateNorm {
            let norm = try DifferentialPrivacy.updateNorm(update, relativeTo: global)
            guard norm <= bound else { throw .normExceeded(norm: norm, limit: bound) }
        }
        if let clip = order.clipNorm { update = try DifferentialPrivacy.clip(update: update, relativeTo: global, clipNorm: clip) }
        return update
    }

    /// Takes a metrics-only result (validation, prediction).
    public mutating func receiveMetrics(jobId: String, sender: String, weight: Double, metrics: [String: Double], contributors: [String] = [],
                                        clientResults: [ClientResult]? = nil) throws(WireError) {
        try admit(jobId: jobId, sessionId: order.sessionId, round: order.round, sender: sender)
        // Forward mode: a combiner closes its part of a training job with a report of metrics.
        guard order.kind != .train || order.aggregation == .forward else {
            throw WireError(.rejected, "job \(order.jobId) is a training job: send an update, not metrics")
        }
        guard weight > 0, weight.isFinite else {
            rejected[sender] = "weight must be positive"
            throw WireError(.rejected, "weight must be a positive number of examples, got \(weight)")
        }
        guard metrics.values.allSatisfy(\.isFinite) else {
            rejected[sender] = "non-finite metric"
            throw WireError(.rejected, "metrics must be finite numbers")
        }
        record(sender: sender, weight: weight, metrics: metrics, contributors: contributors, clientResults: clientResults)
    }

    /// Records that a sender's masked contribution arrived (secure aggregation): it counts as
    /// answered for progress and barriers, though nothing of it is folded here.
    public mutating func markMaskedContribution(_ sender: String) {
        guard selected.contains(sender), !accepted.contains(sender), rejected[sender] == nil else { return }
        accepted.append(sender)
    }

    /// Records that a sender will not deliver (it failed or left), so the job need not wait for it.
    public mutating func markFailed(_ sender: String, reason: String) {
        guard selected.contains(sender), !accepted.contains(sender), forwarding[sender] == nil,
              rejected[sender] == nil else { return }  // the first reason (e.g. a refused update) stays
        rejected[sender] = reason
        assembler?.drop(sender: sender)
    }

    /// Drops partly received uploads that went silent.
    public mutating func dropIdleUploads(olderThan idle: Duration) -> [String] {
        assembler?.dropIdle(olderThan: idle) ?? []
    }

    /// Closes the job: later results are refused as late. Returns the aggregate.
    public mutating func close() -> Result {
        isClosed = true
        assembler = nil
        let model = accepted.isEmpty ? nil : try? accumulator?.takeAverage()
        accumulator = nil
        var metrics: [String: Double] = [:]
        // Only metrics every accepted result reported: a partial carries one total weight, so a
        // metric behind less than all of it could not be re-weighted exactly at the next tier.
        for (key, sum) in metricSums where metricWeights[key] == weightSum { metrics[key] = sum / weightSum }
        return Result(model: model, weight: weightSum, metrics: metrics, accepted: accepted, contributors: contributors, rejected: rejected,
                      invalid: invalid, excluded: selected.subtracting(accepted).sorted(), clientResults: clientResults)
    }

    private func admit(jobId: String, sessionId: String, round: Int, sender: String) throws(WireError) {
        guard jobId == order.jobId, sessionId == order.sessionId, round == order.round else {
            throw WireError(.unknownJob, "result for job \(jobId) (session \(sessionId), round \(round)) does not belong to the open job \(order.jobId)")
        }
        guard !isClosed else { throw WireError(.unknownJob, "job \(jobId) is closed; late result refused") }
        guard selected.contains(sender) else { throw WireError(.notSelected, "\(sender) is not selected for job \(jobId)") }
        guard !accepted.contains(sender) else { throw WireError(.duplicate, "\(sender) already delivered for job \(jobId)") }
        if let reason = rejected[sender] { throw WireError(.rejected, "\(sender)'s result for job \(jobId) was already rejected: \(reason)") }
    }

    /// `clientResults`: what a partial carries about its clients; a client's own result
    /// (no `contributors`) is its own client result.
    private mutating func record(sender: String, weight: Double, metrics: [String: Double], contributors: [String], clientResults: [ClientResult]? = nil) {
        Telemetry.updatesAccepted.increment()
        accepted.append(sender)
        if contributors.isEmpty {
            self.clientResults.append(ClientResult(clientId: sender, numExamples: weight, metrics: metrics.filter { $0.value.isFinite }))
        } else {
            self.clientResults.append(contentsOf: (clientResults ?? []).prefix(contributors.count))
        }
        self.contributors.append(contentsOf: contributors.isEmpty ? [sender] : contributors)
        weightSum += weight
        for (key, value) in metrics where value.isFinite {
            metricSums[key, default: 0] += weight * value
            metricWeights[key, default: 0] += weight
        }
    }
}
