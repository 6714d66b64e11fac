import TributarySecAgg
import TributaryModel

/// What a job asks of its participants.
public enum JobKind: String, Codable, Sendable {
    case train
    case validate
    /// Inference with a model on the clients' local data (FEDn's prediction sessions); the
    /// combiner handles it like `validate`, the controller stores the results as predictions.
    case predict
}

/// One client's own result inside a combiner's report, so the controller can keep per-client
/// training metrics, validations and predictions (FEDn's `/metrics`, `/validations`, `/predictions`).
public struct ClientResult: Codable, Sendable, Equatable {
    public var clientId: String
    public var numExamples: Double
    public var metrics: [String: Double]
    public init(clientId: String, numExamples: Double, metrics: [String: Double]) {
        self.clientId = clientId
        self.numExamples = numExamples
        self.metrics = metrics
    }
}

/// A round order: the controller asks a combiner to run one job (a training or validation
/// step of one round) with its clients. Sent in heartbeat replies, nudged over PUB.
public struct JobOrder: Codable, Sendable, Equatable {
    public var jobId: String
    public var sessionId: String
    public var round: Int
    public var kind: JobKind
    public var modelId: String
    /// Bytes per transfer chunk for this job (model download and update upload alike).
    public var chunkSize: Int
    public var config: TrainingConfig
    /// Seconds the combiner may wait for its clients before it must report.
    public var timeoutSeconds: Double
    /// Fewest accepted client results this combiner needs to report success.
    public var minClients: Int
    /// Most clients this combiner should select (nil: all it has).
    public var maxClients: Int?
    /// Close early after this many accepted results (nil: wait for all selected).
    public var bufferSize: Int?
    /// How a combiner hands its clients' updates up (training jobs).
    public var aggregation: AggregationMode = .sum
    /// Central DP: clip each client update's delta from the round's model to this L2 norm
    /// before folding it, and weight every update equally (σ = z·C/m assumes an unweighted mean).
    public var clipNorm: Double? = nil
    /// Refuse client updates whose delta from the round's model has a larger L2 norm.
    public var maxUpdateNorm: Double? = nil
    /// Only these clients may be selected (`client_ids` of a session start); nil: any.
    public var clients: [String]? = nil
    /// Weight every client update equally instead of by example count (an unweighted mean).
    public var unweighted: Bool? = nil
    /// Secure aggregation of the clients' updates (SecAgg+): the combiner learns only their sum.
    public var secureAggregation: SecAggConfig? = nil

    public init(
        jobId: String, sessionId: String, round: Int, kind: JobKind, modelId: String, chunkSize: Int,
        config: TrainingConfig, timeoutSeconds: Double, minClients: Int, maxClients: Int? = nil, bufferSize: Int? = nil,
        aggregation: AggregationMode = .sum, clipNorm: Double? = nil, maxUpdateNorm: Double? = nil, clients: [String]? = nil
    ) {
        self.jobId = jobId
        self.sessionId = sessionId
        self.round = round
        self.kind = kind
        self.modelId = modelId
        self.chunkSize = chunkSize
        self.config = config
        self.timeoutSeconds = timeoutSeconds
        self.minClients = minClients
        self.maxClients = maxClients
        self.bufferSize = bufferSize
        self.aggregation = aggregation
        self.clipNorm = clipNorm
        self.maxUpdateNorm = maxUpdateNorm
        self.clients = clients
    }

    /// Orders from a peer that predates the aggregation fields decode with their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            jobId: try c.decode(String.self, forKey: .jobId), sessionId: try c.decode(String.self, forKey: .sessionId),
            round: try c.decode(Int.self, forKey: .round), kind: try c.decode(JobKind.self, forKey: .kind),
            modelId: try c.decode(String.self, forKey: .modelId), chunkSize: try c.decode(Int.self, forKey: .chunkSize),
            config: try c.decode(TrainingConfig.self, forKey: .config), timeoutSeconds: try c.decode(Double.self, forKey: .timeoutSeconds),
            minClients: try c.decode(Int.self, forKey: .minClients), maxClients: try c.decodeIfPresent(Int.self, forKey: .maxClients),
            bufferSize: try c.decodeIfPresent(Int.self, forKey: .bufferSize),
            aggregation: try c.decodeIfPresent(AggregationMode.self, forKey: .aggregation) ?? .sum,
            clipNorm: try c.decodeIfPresent(Double.self, forKey: .clipNorm), maxUpdateNorm: try c.decodeIfPresent(Double.self, forKey: .maxUpdateNorm),
            clients: try c.decodeIfPresent([String].self, forKey: .clients))
        unweighted = try c.decodeIfPresent(Bool.self, forKey: .unweighted)
        secureAggregation = try c.decodeIfPresent(SecAggConfig.self, forKey: .secureAggregation)
    }
}

/// What a combiner sends up for a training job.
public enum AggregationMode: String, Codable, Sendable {
    /// Decomposable strategies: one partial aggregate (weighted sum / total weight).
    case sum
    /// Robust rules: every accepted, validated client update, forwarded one by one
    /// (`forwardUpdate`), then a `JobReport` that closes the combiner's part.
    case forward
}

/// A client whose result a combiner left out, and why; the controller turns each into a
/// status event (`GET /api/v1/statuses`).
public struct ClientIssue: Codable, Sendable, Equatable {
    public var clientId: String
    /// `updateRejected` (the update failed validation) or `taskFailed` (no usable result).
    public var type: String
    public var reason: String

    public static let updateRejected = "MODEL_UPDATE_REJECTED"
    public static let taskFailed = "CLIENT_FAILED"

    public init(clientId: String, type: String, reason: String) {
        self.clientId = clientId
        self.type = type
        self.reason = String(reason.prefix(1024))
    }
}

/// A task for one client: the client's view of a job.
public struct ClientTask: Codable, Sendable, Equatable {
    public var jobId: String
    public var sessionId: String
    public var round: Int
    public var kind: JobKind
    public var modelId: String
    public var chunkSize: Int
    public var config: TrainingConfig
    /// Secure aggregation: the client masks its update instead of sending it.
    public var secureAggregation: SecAggConfig?
    /// With secure aggregation: clip the update's delta to this L2 norm first (central DP), and
    /// weigh it 1 when `unweighted` — what the combiner would do had it seen the update.
    public var clipNorm: Double?
    public var unweighted: Bool?
    /// With secure aggregation: how long the combiner waits for stage 0 (everyone's training).
    public var timeoutSeconds: Double?

    public init(order: JobOrder) {
        jobId = order.jobId
        sessionId = order.sessionId
        round = order.round
        kind = order.kind
        modelId = order.modelId
        chunkSize = order.chunkSize
        config = order.config
        secureAggregation = order.kind == .train ? order.secureAggregation : nil
        clipNorm = secureAggregation == nil ? nil : order.clipNorm
        unweighted = secureAggregation == nil ? nil : (order.unweighted == true || order.clipNorm != nil)
        timeoutSeconds = secureAggregation == nil ? nil : order.timeoutSeconds
    }
}

/// A PUB notice: "job `jobId` is waiting; heartbeat now to learn whether it is yours".
public struct JobNotice: Codable, Sendable {
    public var jobId: String
    public init(jobId: String) { self.jobId = jobId }
}

/// A combiner's report of a job that ends without a partial upload: validation metrics, or
/// a failure with its reason.
public struct JobReport: Codable, Sendable {
    public var jobId: String
    public var combiner: String
    public var succeeded: Bool
    public var reason: String?
    /// Total example count behind `metrics` (weights of the weighted mean).
    public var weight: Double
    public var clientsReported: [String]
    public var metrics: [String: Double]
    /// Clients left out and why (nil from older peers).
    public var issues: [ClientIssue]?
    /// Each accepted client's own metrics (nil from older peers).
    public var clientResults: [ClientResult]?

    public init(jobId: String, combiner: String, succeeded: Bool, reason: String? = nil, weight: Double, clientsReported: [String],
                metrics: [String: Double], issues: [ClientIssue]? = nil, clientResults: [ClientResult]? = nil) {
        self.jobId = jobId
        self.combiner = combiner
        self.succeeded = succeeded
        self.reason = reason
        self.weight = weight
        self.clientsReported = clientsReported
        self.metrics = metrics
        self.issues = issues
        self.clientResults = clientResults
    }
}

/// A client's word that it cannot deliver for a task (its trainer failed or timed out), so
/// the combiner stops waiting for it and records why.
public struct TaskFailure: Codable, Sendable {
    public var jobId: String
    public var clientId: String
    public var reason: String

    public init(jobId: String, clientId: String, reason: String) {
        self.jobId = jobId
        self.clientId = clientId
        self.reason = String(reason.prefix(4096))
    }
}

/// A client's validation result for a validate job.
public struct ValidationReport: Codable, Sendable {
    public var jobId: String
    public var clientId: String
    public var numExamples: Int
    public var metrics: [String: Double]

    public init(jobId: String, clientId: String, numExamples: Int, metrics: [String: Double]) {
        self.jobId = jobId
        self.clientId = clientId
        self.numExamples = numExamples
        self.metrics = metrics
    }
}
