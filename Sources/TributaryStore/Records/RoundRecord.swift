import Foundation
import GRDB

/// One combiner's part in a round, as the controller saw it.
public struct CombinerReport: Codable, Sendable, Equatable {
    public var name: String
    public var status: String          // "Success", "Failed", "NoReport"
    public var clients: [String]       // clients whose updates it folded in
    public var weight: Double          // total example count
    public var reason: String?
    public var timeSeconds: Double?    // from order to complete report
    /// Clients it selected whose updates did not make it in (stragglers, failures, rejections).
    public var excluded: [String]

    public init(name: String, status: String, clients: [String], weight: Double, reason: String? = nil, timeSeconds: Double? = nil, excluded: [String] = []) {
        self.name = name
        self.status = status
        self.clients = clients
        self.weight = weight
        self.reason = reason
        self.timeSeconds = timeSeconds
        self.excluded = excluded
    }

    enum CodingKeys: String, CodingKey {
        case name, status, clients, weight, reason, timeSeconds = "time_seconds", excluded
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        status = try c.decode(String.self, forKey: .status)
        clients = try c.decode([String].self, forKey: .clients)
        weight = try c.decode(Double.self, forKey: .weight)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        timeSeconds = try c.decodeIfPresent(Double.self, forKey: .timeSeconds)
        excluded = try c.decodeIfPresent([String].self, forKey: .excluded) ?? []
    }
}

/// What a round produced besides its model.
public struct RoundData: Codable, Sendable, Equatable {
    public var trainMetrics: [String: Double] = [:]
    public var validation: [String: Double] = [:]
    public var numExamples: Double = 0
    public var timeTraining: Double? = nil
    public var timeValidation: Double? = nil
    public var timeReduce: Double? = nil
    /// 1, or more when a controller restart interrupted the round and it was run again.
    public var attempt: Int = 1
    /// Which rule ran where, e.g. "fedmedian at the controller, over 3 client updates".
    public var aggregation: String? = nil
    /// The central-DP noise added to this round's aggregate, when the session uses DP.
    public var dp: DPNoiseRecord? = nil

    public init() {}

    enum CodingKeys: String, CodingKey {
        case trainMetrics = "train_metrics", validation, numExamples = "num_examples"
        case timeTraining = "time_training", timeValidation = "time_validation", timeReduce = "time_reduce", attempt
        case aggregation, dp
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        trainMetrics = try c.decodeIfPresent([String: Double].self, forKey: .trainMetrics) ?? [:]
        validation = try c.decodeIfPresent([String: Double].self, forKey: .validation) ?? [:]
        numExamples = try c.decodeIfPresent(Double.self, forKey: .numExamples) ?? 0
        timeTraining = try c.decodeIfPresent(Double.self, forKey: .timeTraining)
        timeValidation = try c.decodeIfPresent(Double.self, forKey: .timeValidation)
        timeReduce = try c.decodeIfPresent(Double.self, forKey: .timeReduce)
        attempt = try c.decodeIfPresent(Int.self, forKey: .attempt) ?? 1
        aggregation = try c.decodeIfPresent(String.self, forKey: .aggregation)
        dp = try c.decodeIfPresent(DPNoiseRecord.self, forKey: .dp)
    }
}

/// The Gaussian noise of one round's central DP: σ = z·C/m, drawn from `seed`, so the round
/// can be reproduced.
public struct DPNoiseRecord: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var sigma: Double
    /// m: the number of (equally weighted) client updates in the aggregate.
    public var updates: Int
    public var clipNorm: Double
    public var noiseMultiplier: Double

    public init(seed: UInt64, sigma: Double, updates: Int, clipNorm: Double, noiseMultiplier: Double) {
        self.seed = seed
        self.sigma = sigma
        self.updates = updates
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
    }

    enum CodingKeys: String, CodingKey {
        case seed, sigma, updates, clipNorm = "clip_norm", noiseMultiplier = "noise_multiplier"
    }
}

public struct RoundRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "round"
    public static let columns = ["round_id", "session_id", "round_number", "status", "model_in", "model_out", "committed_at", "updated_at"]

    /// pending → running → aggregating → (validating) → completed | failed
    public enum Status: String, Codable, Sendable {
        case pending = "Pending", running = "Running", aggregating = "Aggregating", validating = "Validating"
        case completed = "Finished", failed = "Failed"
    }

    public var roundId: String
    public var sessionId: String
    public var roundNumber: Int
    public var status: Status
    public var modelIn: String
    public var modelOut: String?
    public var combiners: [CombinerReport]
    public var roundData: RoundData
    public var error: String?
    public var committedAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?

    public init(sessionId: String, roundNumber: Int, modelIn: String, now: Date = Date()) {
        self.roundId = Self.id(sessionId: sessionId, roundNumber: roundNumber)
        self.sessionId = sessionId
        self.roundNumber = roundNumber
        self.status = .pending
        self.modelIn = modelIn
        self.combiners = []
        self.roundData = RoundData()
        self.committedAt = now
        self.updatedAt = now
    }

    /// A round's id: its session's id and its number, `<session>-r<n>`.
    public static func id(sessionId: String, roundNumber: Int) -> String { "\(sessionId)-r\(roundNumber)" }

    enum CodingKeys: String, CodingKey {
        case roundId = "round_id", sessionId = "session_id", roundNumber = "round_number", status
        case modelIn = "model_in", modelOut = "model_out", combiners, roundData = "round_data", error
        case committedAt = "committed_at", updatedAt = "updated_at", finishedAt = "finished_at"
    }
}
