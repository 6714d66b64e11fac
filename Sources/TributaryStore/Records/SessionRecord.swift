import Foundation
import GRDB
import TributaryModel
import TributarySecAgg

/// How a session trains: the Scaleout Edge / FEDn `session_config`, plus the local
/// training settings that every task carries.
public struct SessionConfig: Codable, Sendable, Equatable {
    public var aggregator: String = "fedavg"
    public var aggregatorKwargs: [String: AggregatorKwarg]? = nil
    public var roundTimeout: Double = 180
    public var bufferSize: Int = -1
    public var rounds: Int = 5
    public var clientsRequired: Int = 1
    public var requestedClients: Int? = nil
    public var validate: Bool = true
    public var helperType: String = "numpyhelper"
    public var modelId: String? = nil
    public var deleteModelsStorage: Bool = true
    public var chunkSize: Int = 8 << 20
    public var training: TrainingConfig = TrainingConfig()
    /// FEDn's Python server functions; Tributary cannot run Python at the controller, so a
    /// session that sets them is refused rather than silently run without them.
    public var serverFunctions: String? = nil
    /// Which clients may take part (trust and failure bounds); nil: every online client.
    public var policy: ParticipantPolicy? = nil
    /// Average updates with equal weights instead of by example count.
    public var unweighted: Bool = false
    /// The HTTP devices a device round selected (identifiers); nil: every active one.
    public var selectedDevices: [String]? = nil
    /// Secure aggregation (SecAgg+) of every cohort's updates; nil: off.
    public var secureAggregation: SecAggConfig? = nil

    public init() {}

    enum CodingKeys: String, CodingKey {
        case aggregator
        case aggregatorKwargs = "aggregator_kwargs"
        case roundTimeout = "round_timeout"
        case bufferSize = "buffer_size"
        case rounds
        case clientsRequired = "clients_required"
        case requestedClients = "requested_clients"
        case validate
        case helperType = "helper_type"
        case modelId = "model_id"
        case deleteModelsStorage = "delete_models_storage"
        case chunkSize = "chunk_size"
        case training
        case serverFunctions = "server_functions"
        case policy, unweighted
        case selectedDevices = "selected_devices"
        case secureAggregation = "secure_aggregation"
    }

    /// Every key is optional: what is missing takes its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SessionConfig()
        aggregator = try c.decodeIfPresent(String.self, forKey: .aggregator) ?? d.aggregator
        aggregatorKwargs = try c.decodeIfPresent([String: AggregatorKwarg].self, forKey: .aggregatorKwargs)
        roundTimeout = try c.decodeIfPresent(Double.self, forKey: .roundTimeout) ?? d.roundTimeout
        bufferSize = try c.decodeIfPresent(Int.self, forKey: .bufferSize) ?? d.bufferSize
        rounds = try c.decodeIfPresent(Int.self, forKey: .rounds) ?? d.rounds
        clientsRequired = try c.decodeIfPresent(Int.self, forKey: .clientsRequired) ?? d.clientsRequired
        requestedClients = try c.decodeIfPresent(Int.self, forKey: .requestedClients)
        validate = try c.decodeIfPresent(Bool.self, forKey: .validate) ?? d.validate
        helperType = try c.decodeIfPresent(String.self, forKey: .helperType) ?? d.helperType
        modelId = try c.decodeIfPresent(String.self, forKey: .modelId)
        deleteModelsStorage = try c.decodeIfPresent(Bool.self, forKey: .deleteModelsStorage) ?? d.deleteModelsStorage
        chunkSize = try c.decodeIfPresent(Int.self, forKey: .chunkSize) ?? d.chunkSize
        training = try c.decodeIfPresent(TrainingConfig.self, forKey: .training) ?? d.training
        serverFunctions = try c.decodeIfPresent(String.self, forKey: .serverFunctions)
        policy = try c.decodeIfPresent(ParticipantPolicy.self, forKey: .policy)
        unweighted = try c.decodeIfPresent(Bool.self, forKey: .unweighted) ?? false
        selectedDevices = try c.decodeIfPresent([String].self, forKey: .selectedDevices)
        secureAggregation = try c.decodeIfPresent(SecAggConfig.self, forKey: .secureAggregation)
    }

    /// `aggregator` and `aggregator_kwargs`, parsed and completed with their defaults.
    public func aggregatorSettings() throws(AggregatorSettingsError) -> AggregatorSettings {
        try AggregatorSettings.parse(aggregator: aggregator, kwargs: aggregatorKwargs)
    }

    /// The first invalid field and why, or nil. Checked when a session is created, so a bad
    /// config is refused up front rather than failing mid-session.
    public func invalidField() -> (field: String, reason: String)? {
        // Unknown names and bad kwargs are refused here, so they never reach a running session.
        let settings: AggregatorSettings
        do { settings = try aggregatorSettings() } catch { return (error.field, error.message) }
        if let secure = secureAggregation {
            if let bad = secure.problem() { return ("secure_aggregation.\(bad.field)", bad.message) }
            if !settings.kind.isDecomposable {
                return ("secure_aggregation", "the \(aggregator) aggregator needs every individual update, which secure aggregation hides; use fedavg, fedprox or a server optimizer")
            }
        }
        if !(roundTimeout > 0) || !roundTimeout.isFinite { return ("round_timeout", "must be a positive number of seconds") }
        if bufferSize == 0 || bufferSize < -1 { return ("buffer_size", "must be -1 (all selected clients) or positive") }
        if rounds < 1 || rounds > 1_000_000 { return ("rounds", "must be between 1 and 1000000") }
        if clientsRequired < 1 { return ("clients_required", "must be at least 1") }
        if let r = requestedClients, r < 1 { return ("requested_clients", "must be at least 1") }
        if chunkSize < 64 || chunkSize > 16 << 20 { return ("chunk_size", "must be between 64 bytes and 16 MiB") }
        if let bad = training.invalidField() { return ("training.\(bad.field)", bad.reason) }
        if serverFunctions != nil { return ("server_functions", "Python server functions are not supported; use a built-in aggregator") }
        if let bad = policy?.invalidField() { return ("policy.\(bad.field)", bad.reason) }
        return nil
    }
}

/// Which clients a session lets take part, from what they did before (see `ParticipantScores`):
/// at most `maxClientFailures` rejected or missed rounds, a trust score of at least
/// `trustThreshold`; rounds need `minClients` updates.
public struct ParticipantPolicy: Codable, Sendable, Equatable {
    public var minClients: Int?
    public var maxClientFailures: Int?
    public var trustThreshold: Double?

    public init(minClients: Int? = nil, maxClientFailures: Int? = nil, trustThreshold: Double? = nil) {
        self.minClients = minClients
        self.maxClientFailures = maxClientFailures
        self.trustThreshold = trustThreshold
    }

    enum CodingKeys: String, CodingKey {
        case minClients = "min_clients", maxClientFailures = "max_client_failures", trustThreshold = "trust_threshold"
    }

    func invalidField() -> (field: String, reason: String)? {
        if let m = minClients, m < 1 { return ("min_clients", "must be at least 1") }
        if let f = maxClientFailures, f < 0 { return ("max_client_failures", "must be 0 or more") }
        if let t = trustThreshold, !(0...1).contains(t) { return ("trust_threshold", "must be between 0 and 1") }
        return nil
    }
}

public struct SessionRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "session"
    public static let columns = ["session_id", "name", "description", "status", "seed_model_id", "committed_at", "updated_at", "started_at", "finished_at"]

    public enum Status: String, Codable, Sendable {
        case created = "Created", started = "Started", finished = "Finished", failed = "Failed", terminated = "Terminated"
    }

    public var sessionId: String
    public var name: String
    public var description: String?
    public var status: Status
    public var seedModelId: String?
    public var sessionConfig: SessionConfig
    public var committedAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    public init(sessionId: String, name: String, seedModelId: String?, config: SessionConfig, now: Date = Date()) {
        self.sessionId = sessionId
        self.name = name
        self.status = .created
        self.seedModelId = seedModelId
        self.sessionConfig = config
        self.committedAt = now
        self.updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case sessionId = "session_id", name, description, status, seedModelId = "seed_model_id", sessionConfig = "session_config"
        case committedAt = "committed_at", updatedAt = "updated_at", startedAt = "started_at", finishedAt = "finished_at"
    }
}
