import TributaryModel

/// Collects the results of one job at one tier — client updates at a combiner, partial
/// aggregates at the controller — and folds each accepted update into a running FedAvg.
///
/// The same code serves both tiers because FedAvg is decomposable: a combiner reports
/// x̄_c = Σ_{i∈c} nᵢxᵢ / N_c with weight N_c = Σ_{i∈c} nᵢ, and folding those partials with
/// their weights gives Σ_c N_c·x̄_c / Σ_c N_c = Σᵢ nᵢxᵢ / Σᵢ nᵢ, the flat FedAvg over all
/// clients. Metrics are folded the same way (example-weighted means).
///
/// An update is checked (job, round, sender, layout, checksum, finite values, weight) before
/// anything is folded; a rejected update never touches the aggregate. Not thread-safe: owned
/// by one actor.
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
        /// Selected senders whose results are not in the aggregate.
        public var excluded: [String]
    }

    public let order: JobOrder
    public let selected: Set<String>
    public private(set) var accepted: [String] = []
    public private(set) var rejected: [String: String] = [:]
    public private(set) var contributors: [String] = []
    public private(set) var isClosed = false
    private var assembler: UploadAssembler?
    private var accumulator: FedAvgAccumulator?
    private var weightSum = 0.0
    private var metricSums: [String: Double] = [:]
    private var metricWeights: [String: Double] = [:]

    /// `spec` is the layout of the job's model (required for training jobs).
    public init(order: JobOrder, spec: ModelSpec?, selected: Set<String>, maxStagingBytes: Int) throws(ModelError) {
        self.order = order
        self.selected = selected
        if order.kind == .train {
            guard let spec else { throw .invalidSpec("a training job needs the model's layout") }
            accumulator = try FedAvgAccumulator(spec: spec)
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

    /// Takes one chunk of an update; folds the update when its last chunk arrives.
    public mutating func receiveChunk(_ meta: UploadChunk, payload: UnsafeRawBufferPointer) throws(WireError) -> UploadReceipt {
        try admit(jobId: meta.jobId, sessionId: meta.sessionId, round: meta.round, sender: meta.sender)
        guard order.kind == .train, assembler != nil else {
            throw WireError(.rejected, "job \(order.jobId) is a \(order.kind.rawValue) job and takes no model updates")
        }
        switch try assembler!.receive(meta, payload: payload) {
        case .stored(let count):
            return UploadReceipt(status: .stored, chunksReceived: count)
        case .complete(let complete):
            do {
                try accumulator!.add(complete.bytes, weight: complete.meta.weight)
            } catch {
                rejected[meta.sender] = error.description
                throw WireError(.rejected, error.description)
            }
            // What the upload itself carried (all its chunks agreed on it), not this chunk's word.
            record(sender: complete.meta.sender, weight: complete.meta.weight, metrics: complete.meta.metrics, contributors: complete.meta.contributors)
            return UploadReceipt(status: .accepted, chunksReceived: complete.meta.chunkCount)
        }
    }

    /// Takes a metrics-only result (validation).
    public mutating func receiveMetrics(jobId: String, sender: String, weight: Double, metrics: [String: Double], contributors: [String] = []) throws(WireError) {
        try admit(jobId: jobId, sessionId: order.sessionId, round: order.round, sender: sender)
        guard order.kind == .validate else {
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
        record(sender: sender, weight: weight, metrics: metrics, contributors: contributors)
    }

    /// Records that a sender will not deliver (it failed or left), so the job need not wait for it.
    public mutating func markFailed(_ sender: String, reason: String) {
        guard selected.contains(sender), !accepted.contains(sender) else { return }
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
        let model = accepted.isEmpty ? nil : try? accumulator?.average()
        accumulator = nil
        var metrics: [String: Double] = [:]
        // Only metrics every accepted result reported: a partial carries one total weight, so a
        // metric behind less than all of it could not be re-weighted exactly at the next tier.
        for (key, sum) in metricSums where metricWeights[key] == weightSum { metrics[key] = sum / weightSum }
        return Result(model: model, weight: weightSum, metrics: metrics, accepted: accepted, contributors: contributors, rejected: rejected,
                      excluded: selected.subtracting(accepted).sorted())
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

    private mutating func record(sender: String, weight: Double, metrics: [String: Double], contributors: [String]) {
        accepted.append(sender)
        self.contributors.append(contentsOf: contributors.isEmpty ? [sender] : contributors)
        weightSum += weight
        for (key, value) in metrics where value.isFinite {
            metricSums[key, default: 0] += weight * value
            metricWeights[key, default: 0] += weight
        }
    }
}
