import TributaryModel

public struct GetModelInfo: Codable, Sendable {
    public var modelId: String
    public var chunkSize: Int
    public init(modelId: String, chunkSize: Int) {
        self.modelId = modelId
        self.chunkSize = chunkSize
    }
}

/// Everything a downloader needs to fetch and check a model: its layout, size, the number of
/// chunks for the agreed chunk size, and the XXH3 of the whole flat data.
public struct ModelInfo: Codable, Sendable {
    public var modelId: String
    public var spec: ModelSpec
    public var totalBytes: Int
    public var chunkCount: Int
    public var checksum: String   // hex XXH3-64; JSON numbers lose precision past 2^53 in many parsers

    public init(modelId: String, spec: ModelSpec, totalBytes: Int, chunkCount: Int, checksum: UInt64) {
        self.modelId = modelId
        self.spec = spec
        self.totalBytes = totalBytes
        self.chunkCount = chunkCount
        self.checksum = String(checksum, radix: 16)
    }

    public var checksumValue: UInt64? { UInt64(checksum, radix: 16) }
}

public struct GetModelChunk: Codable, Sendable {
    public var modelId: String
    public var chunkSize: Int
    public var index: Int
    /// Who asks (a client's id). A combiner counts the chunks it has sent each requester
    /// against its download budget until the next request or `modelReceived` confirms them;
    /// nil (a combiner asking the controller, older clients): not counted.
    public var requester: String?
    public init(modelId: String, chunkSize: Int, index: Int, requester: String? = nil) {
        self.modelId = modelId
        self.chunkSize = chunkSize
        self.index = index
        self.requester = requester
    }
}

/// After the last chunk: the requester has the whole model (`GetModelChunk.requester`).
public struct ModelReceived: Codable, Sendable {
    public var modelId: String
    public var requester: String
    public init(modelId: String, requester: String) {
        self.modelId = modelId
        self.requester = requester
    }
}

public struct ModelChunk: Codable, Sendable {
    public var modelId: String
    public var index: Int
    public var offset: Int
    public init(modelId: String, index: Int, offset: Int) {
        self.modelId = modelId
        self.index = index
        self.offset = offset
    }
}

/// Metadata of every chunk of an update (client → combiner) or partial aggregate
/// (combiner → controller). Each chunk repeats the whole header, so any chunk can open the
/// upload and a retried chunk is recognised: uploads are keyed by (job, sender).
public struct UploadChunk: Codable, Sendable, Equatable {
    public var jobId: String
    public var sessionId: String
    public var round: Int
    public var sender: String
    public var index: Int
    public var chunkCount: Int
    public var offset: Int
    public var totalBytes: Int
    /// Hex XXH3-64 of the whole flat update, checked after the last chunk.
    public var checksum: String
    /// Example count (client update) or total example count (partial aggregate).
    public var weight: Double
    /// Example-weighted metrics (e.g. train_loss).
    public var metrics: [String: Double]
    /// Clients whose updates are folded into a partial aggregate (empty for client updates).
    public var contributors: [String]
    /// Clients a combiner selected whose updates are not in its partial (stragglers cut off by
    /// the timeout or `buffer_size`, failures, rejections); nil for client updates.
    public var excluded: [String]?
    /// Partial aggregates: clients left out and why (for status events); nil otherwise.
    public var issues: [ClientIssue]?
    /// A client update a combiner forwards (robust rules): the forwarding combiner; `sender`
    /// is then the client. Nil otherwise.
    public var via: String?
    /// Partial aggregates: each folded client's own metrics; nil otherwise.
    public var clientResults: [ClientResult]?

    public init(
        jobId: String, sessionId: String, round: Int, sender: String, index: Int, chunkCount: Int, offset: Int,
        totalBytes: Int, checksum: UInt64, weight: Double, metrics: [String: Double], contributors: [String] = [], excluded: [String]? = nil,
        issues: [ClientIssue]? = nil, via: String? = nil, clientResults: [ClientResult]? = nil
    ) {
        self.jobId = jobId
        self.sessionId = sessionId
        self.round = round
        self.sender = sender
        self.index = index
        self.chunkCount = chunkCount
        self.offset = offset
        self.totalBytes = totalBytes
        self.checksum = String(checksum, radix: 16)
        self.weight = weight
        self.metrics = metrics
        self.clientResults = clientResults
        self.contributors = contributors
        self.excluded = excluded
        self.issues = issues
        self.via = via
    }

    public var checksumValue: UInt64? { UInt64(checksum, radix: 16) }
}

/// Asks the receiver to keep room for one update before any of its chunks is sent, so that no
/// more update bytes are ever on their way (in nng's buffers, in REP contexts) than the
/// receiver has admitted. Answered with `ack` once the room is reserved, or `busy`; the
/// reservation lapses if no chunk follows within the receiver's idle timeout. Updates under
/// `FlowControl.smallBytes` are sent without one.
public struct UploadSlotRequest: Codable, Sendable {
    public var jobId: String
    public var sessionId: String
    public var round: Int
    public var sender: String
    public var totalBytes: Int

    public init(jobId: String, sessionId: String, round: Int, sender: String, totalBytes: Int) {
        (self.jobId, self.sessionId, self.round, self.sender, self.totalBytes) = (jobId, sessionId, round, sender, totalBytes)
    }
}

public struct UploadReceipt: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case stored    // chunk kept; more chunks expected
        case accepted  // the whole update was checked and folded in
    }
    public var status: Status
    public var chunksReceived: Int
    public init(status: Status, chunksReceived: Int) {
        self.status = status
        self.chunksReceived = chunksReceived
    }
}
