/// What the server asks of a local training step. Set per session, carried in every job and
/// task to every client, and handed to external trainers as `<in>-metadata`.
public struct TrainingConfig: Codable, Sendable, Equatable {
    public var localEpochs: Int = 1
    public var batchSize: Int = 32
    public var learningRate: Double = 0.1
    /// FedProx: weight μ of the proximal term (μ/2)‖w − w_global‖²; nil for plain FedAvg.
    public var proximalMu: Double? = nil
    /// Mixed with round and client id for shuffling, so runs are reproducible.
    public var seed: UInt64 = 0
    public var custom: [String: String] = [:]

    public init(localEpochs: Int = 1, batchSize: Int = 32, learningRate: Double = 0.1, proximalMu: Double? = nil, seed: UInt64 = 0, custom: [String: String] = [:]) {
        self.localEpochs = localEpochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.proximalMu = proximalMu
        self.seed = seed
        self.custom = custom
    }

    enum CodingKeys: String, CodingKey {
        case localEpochs = "local_epochs"
        case batchSize = "batch_size"
        case learningRate = "learning_rate"
        case proximalMu = "proximal_mu"
        case seed
        case custom
    }

    /// Missing keys take their defaults, so a session config may name only what it changes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        localEpochs = try c.decodeIfPresent(Int.self, forKey: .localEpochs) ?? 1
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 32
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? 0.1
        proximalMu = try c.decodeIfPresent(Double.self, forKey: .proximalMu)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        custom = try c.decodeIfPresent([String: String].self, forKey: .custom) ?? [:]
    }

    /// Checks values a trainer could not use; returns the offending field's name and why.
    public func invalidField() -> (field: String, reason: String)? {
        if localEpochs < 1 || localEpochs > 10_000 { return ("local_epochs", "must be between 1 and 10000") }
        if batchSize < 1 { return ("batch_size", "must be at least 1") }
        if !(learningRate > 0) || !learningRate.isFinite { return ("learning_rate", "must be a positive number") }
        if let mu = proximalMu, !(mu >= 0) || !mu.isFinite { return ("proximal_mu", "must be a non-negative number") }
        return nil
    }
}
