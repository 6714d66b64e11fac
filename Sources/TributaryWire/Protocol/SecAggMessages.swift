import Foundation
import TributarySecAgg

/// A client's SecAgg+ call for one job (`secaggKeys`, `secaggBundles`, `secaggMasked`,
/// `secaggUnmask`, `secaggPoll`); only the fields of its stage are set. Byte strings are base64.
public struct SecAggRequest: Codable, Sendable, Equatable {
    public var jobId: String
    public var clientId: String
    public var maskingKey: String?
    public var sharingKey: String?
    /// Stage 1: bundle per recipient id; stage 3: share per owner id.
    public var bundles: [String: String]?
    public var shares: [String: String]?
    /// Stage 0: the client's training metrics (not its example count: that is masked).
    public var metrics: [String: Double]?
    /// Stage 2 in parts (a vector larger than one message): this part's first element and the
    /// vector's length. Absent: the payload is the whole vector.
    public var offset: Int?
    public var total: Int?

    public init(jobId: String, clientId: String, maskingKey: String? = nil, sharingKey: String? = nil, bundles: [String: String]? = nil,
                shares: [String: String]? = nil, metrics: [String: Double]? = nil, offset: Int? = nil, total: Int? = nil) {
        self.jobId = jobId
        self.clientId = clientId
        self.maskingKey = maskingKey
        self.sharingKey = sharingKey
        self.bundles = bundles
        self.shares = shares
        self.metrics = metrics
        self.offset = offset
        self.total = total
    }
}

/// Where a client's SecAgg+ round stands, and what its stage holds for it.
public struct SecAggState: Codable, Sendable, Equatable {
    public var stage: SecAggCohort.Stage
    /// From stage 1: the client's neighbourhood, itself included.
    public var neighbours: [SecAggNeighbour]?
    /// From stage 2: the bundles addressed to it, by sender.
    public var bundles: [String: String]?
    /// Stage 3: who survived stage 2, who dropped after stage 1.
    public var active: [String]?
    public var dropped: [String]?
    public var failure: String?

    public init(stage: SecAggCohort.Stage, neighbours: [SecAggNeighbour]? = nil, bundles: [String: String]? = nil, active: [String]? = nil,
                dropped: [String]? = nil, failure: String? = nil) {
        self.stage = stage
        self.neighbours = neighbours
        self.bundles = bundles
        self.active = active
        self.dropped = dropped
        self.failure = failure
    }

    /// The state of `cohort` as `client` may see it.
    public init(_ cohort: SecAggCohort, for client: String) {
        let unmask = cohort.unmaskRequest(for: client)
        self.init(stage: cohort.stage, neighbours: cohort.neighbours(of: client),
                  bundles: cohort.bundles(for: client)?.mapValues { Data($0).base64EncodedString() },
                  active: unmask?.active, dropped: unmask?.dropped, failure: cohort.failure)
    }
}

extension SecAggError {
    /// The wire error a refused SecAgg+ call answers with.
    public var wire: WireError {
        switch kind {
        case .outOfOrder: WireError(.unexpectedKind, message)
        case .unknownParticipant: WireError(.notSelected, message)
        case .duplicate: WireError(.duplicate, message)
        case .busy: WireError(.busy, message)
        case .invalid, .failed: WireError(.rejected, message)
        }
    }
}

/// Base64 map values to bytes, refusing any that are not base64.
public func decodeBase64Map(_ map: [String: String]?, _ what: String) throws(WireError) -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for (key, text) in map ?? [:] {
        guard let data = Data(base64Encoded: text) else { throw WireError(.malformed, "\(what) for \(key) is not base64") }
        out[key] = [UInt8](data)
    }
    return out
}

extension SecAggCohort {
    /// One participant call, whatever carried it (an nng frame of `kind`, or the device API's
    /// route of the same stage); `vector` is the masked vector of `secaggMasked`. Polls advance
    /// the stages (their deadlines) and change nothing else.
    public mutating func handle(_ kind: MessageKind, _ request: SecAggRequest, vector: [UInt32]?) throws(SecAggError) {
        let id = request.clientId
        func bytes(_ map: [String: String]?) throws(SecAggError) -> [String: [UInt8]] {
            do { return try decodeBase64Map(map, "a share") } catch { throw SecAggError(.invalid, error.message) }
        }
        switch kind {
        case .secaggKeys:
            guard let masking = request.maskingKey, let sharing = request.sharingKey else { throw SecAggError(.invalid, "stage 0 needs masking_key and sharing_key") }
            try submitKeys(id, masking: masking, sharing: sharing)
        case .secaggBundles:
            try submitBundles(id, try bytes(request.bundles))
        case .secaggMasked:
            guard let vector else { throw SecAggError(.invalid, "stage 2 needs the masked vector") }
            try submitMasked(id, vector)
        case .secaggUnmask:
            try submitUnmask(id, try bytes(request.shares))
        default:
            advance()
        }
    }
}
