import Crypto
import Foundation

/// What a cohort's secure aggregation yields: the survivors' summed weight (their example
/// counts, capped at max_weight) and Σ weightᵢ·valuesᵢ — never one participant's values.
public struct SecAggResult: Sendable, Equatable {
    public var participants: [String]
    public var dropped: [String]
    public var totalWeight: Double
    public var weightedSum: [Float]
}

/// The server side of one cohort's SecAgg+ round (Bonawitz et al. 2017; Bell et al. 2020 for
/// the neighbourhoods), used by a combiner for its nng clients and by the controller for HTTP
/// devices. Four stages, each closed when every expected participant answered or its timeout
/// passed with enough of them:
///
/// 0 `advertise_keys`: participants send two public keys; the ring is built from those that did.
/// 1 `share_keys`: each sends one encrypted share bundle per neighbour; they are held for their recipients.
/// 2 `collect_masked`: each fetches the bundles addressed to it, then sends its masked vector,
///   which is added to a running sum mod the modulus (memory O(model) whatever the cohort size).
/// 3 `unmask`: survivors send seed shares of surviving neighbours and key shares of dropped ones;
///   with `reconstruction_threshold` of each, the self masks and the dropped participants'
///   pairwise masks are removed and the sum is dequantized.
///
/// Every refusal throws `SecAggError` and leaves the state as it was.
public struct SecAggCohort: Sendable {
    public enum Stage: String, Sendable, Codable {
        case advertiseKeys = "advertise_keys", shareKeys = "share_keys", collectMasked = "collect_masked", unmask, completed, failed
    }

    public let round: String
    public let config: SecAggConfig
    public private(set) var expected: Set<String>
    /// Masked vector length: 1 (the weight) + the number of model values.
    public let vectorLength: Int
    public internal(set) var stage: Stage = .advertiseKeys
    public internal(set) var failure: String?
    public internal(set) var result: SecAggResult?
    var deadline: ContinuousClock.Instant
    var keys: [String: (masking: String, sharing: String)] = [:]
    var graph: Neighbourhood?
    /// Bundles by recipient, then sender.
    var bundles: [String: [String: [UInt8]]] = [:]
    var sharedKeys: Set<String> = []
    var sum: [UInt32] = []
    var masked: Set<String> = []
    var answeredUnmask: Set<String> = []
    var seedShares: [String: [[UInt8]]] = [:]
    var keyShares: [String: [[UInt8]]] = [:]

    /// `firstStage`: seconds stage 0 waits (when participants train before advertising their
    /// keys, the round's training timeout); later stages wait `config.timeout` each.
    public init(round: String, config: SecAggConfig, participants: some Collection<String>, values: Int, firstStage: Double? = nil,
                now: ContinuousClock.Instant = .now) {
        self.round = round
        self.config = config
        expected = Set(participants)
        vectorLength = values + 1
        deadline = now + .milliseconds(Int64((firstStage ?? config.timeout) * 1000))
    }

    // MARK: Stage 0

    public mutating func submitKeys(_ id: String, masking: String, sharing: String) throws(SecAggError) {
        try expect(id, in: .advertiseKeys)
        guard keys[id] == nil else { throw SecAggError(.duplicate, "\(id) already sent its keys") }
        for key in [masking, sharing] { _ = try SecAggParticipant.decodeKey(key) }
        let taken = Set(keys.values.flatMap { [$0.masking, $0.sharing] })
        guard masking != sharing, !taken.contains(masking), !taken.contains(sharing) else {
            throw SecAggError(.invalid, "a public key of \(id) is already in use in this round")
        }
        keys[id] = (masking, sharing)
        advance()
    }

    /// `id` will not take part (its training failed, it went offline): before its keys arrived,
    /// stage 0 stops waiting for it; later it is simply one of the dropped.
    public mutating func withdraw(_ id: String) {
        guard stage == .advertiseKeys, keys[id] == nil, expected.remove(id) != nil else { return }
        advance()
    }

    /// Stage 1 input: `id`'s neighbourhood, itself included; nil until the ring is built.
    public func neighbours(of id: String) -> [SecAggNeighbour]? {
        guard let graph, graph.index(of: id) != nil else { return nil }
        return graph.neighbours(of: id).compactMap { peer in
            keys[peer].flatMap { k in graph.index(of: peer).map { SecAggNeighbour(id: peer, index: $0, maskingKey: k.masking, sharingKey: k.sharing) } }
        }
    }

    // MARK: Stage 1

    /// `id`'s bundles by recipient: exactly one for each neighbour, itself included.
    public mutating func submitBundles(_ id: String, _ sent: [String: [UInt8]]) throws(SecAggError) {
        try expect(id, in: .shareKeys)
        guard let graph, graph.index(of: id) != nil else { throw SecAggError(.unknownParticipant, "\(id) sent no keys in stage 0") }
        guard !sharedKeys.contains(id) else { throw SecAggError(.duplicate, "\(id) already sent its share bundles") }
        guard Set(sent.keys) == Set(graph.neighbours(of: id)) else {
            throw SecAggError(.invalid, "\(id) must send one bundle to each of its \(graph.neighbours(of: id).count) neighbours, itself included (got \(sent.count))")
        }
        guard sent.values.allSatisfy({ $0.count == 12 + 2 * Shamir.shareLength + 16 }) else {
            throw SecAggError(.invalid, "a share bundle must be \(12 + 2 * Shamir.shareLength + 16) bytes")
        }
        for (to, bundle) in sent { bundles[to, default: [:]][id] = bundle }
        sharedKeys.insert(id)
        advance()
    }

    /// Stage 2 input: the bundles addressed to `id` from the participants that finished stage 1; nil before.
    public func bundles(for id: String) -> [String: [UInt8]]? {
        guard [.collectMasked, .unmask].contains(stage), sharedKeys.contains(id) else { return nil }
        return (bundles[id] ?? [:]).filter { sharedKeys.contains($0.key) }
    }

    // MARK: Stage 2

    public mutating func submitMasked(_ id: String, _ vector: [UInt32]) throws(SecAggError) {
        try expect(id, in: .collectMasked)
        guard sharedKeys.contains(id) else { throw SecAggError(.unknownParticipant, "\(id) did not finish stage 1") }
        guard !masked.contains(id) else { throw SecAggError(.duplicate, "\(id) already sent its masked vector") }
        guard vector.count == vectorLength else { throw SecAggError(.invalid, "a masked vector must have \(vectorLength) elements, not \(vector.count)") }
        let modulus = config.modulusMask
        guard modulus == .max || !vector.contains(where: { $0 > modulus }) else { throw SecAggError(.invalid, "a masked value is not below the modulus") }
        if sum.isEmpty { sum = [UInt32](repeating: 0, count: vectorLength) }
        for j in vector.indices { sum[j] = sum[j] &+ vector[j] }
        masked.insert(id)
        advance()
    }

    /// Stage 3 input: who survived stage 2 and who dropped after stage 1; nil before.
    public func unmaskRequest(for id: String) -> (active: [String], dropped: [String])? {
        guard stage == .unmask, masked.contains(id) else { return nil }
        return (masked.sorted(), sharedKeys.subtracting(masked).sorted())
    }

    // MARK: Stage 3

    /// `id`'s shares by owner: seed shares of survivors, key shares of the dropped, only of its neighbours.
    public mutating func submitUnmask(_ id: String, _ shares: [String: [UInt8]]) throws(SecAggError) {
        try expect(id, in: .unmask)
        guard masked.contains(id) else { throw SecAggError(.unknownParticipant, "\(id) sent no masked vector") }
        guard !answeredUnmask.contains(id) else { throw SecAggError(.duplicate, "\(id) already sent its shares") }
        let neighbours = Set(graph?.neighbours(of: id) ?? [])
        guard Set(shares.keys).isSubset(of: neighbours.intersection(sharedKeys)), shares.values.allSatisfy({ $0.count == Shamir.shareLength }) else {
            throw SecAggError(.invalid, "shares must be \(Shamir.shareLength) bytes, of neighbours that finished stage 1")
        }
        for (owner, share) in shares {
            if masked.contains(owner) { seedShares[owner, default: []].append(share) } else { keyShares[owner, default: []].append(share) }
        }
        answeredUnmask.insert(id)
        advance()
    }

    // MARK: Stages

    /// Closes the current stage when everyone in it answered or its deadline passed; call it on
    /// a timer too, so a stage whose last participants vanished still ends.
    public mutating func advance(now: ContinuousClock.Instant = .now) {
        let expired = now >= deadline
        let t = config.reconstructionThreshold
        func next(_ stage: Stage) {
            self.stage = stage
            deadline = now + .milliseconds(Int64(config.timeout * 1000))
        }
        switch stage {
        case .advertiseKeys where keys.count == expected.count || expired:
            guard keys.count >= t else { return fail("\(keys.count) participants sent keys; the threshold is \(t)") }
            guard keys.count <= config.maxCohort else { return fail("\(keys.count) participants would overflow modulus_range (at most \(config.maxCohort))") }
            graph = Neighbourhood(participants: keys.keys, numShares: config.numShares)
            next(.shareKeys)
        case .shareKeys where sharedKeys.count == keys.count || expired:
            guard let graph, graph.ring.allSatisfy({ !sharedKeys.contains($0) || Set(graph.neighbours(of: $0)).intersection(sharedKeys).count >= t }),
                  sharedKeys.count >= t else {
                return fail("too few participants finished sharing keys (\(sharedKeys.count); threshold \(t) per neighbourhood)")
            }
            next(.collectMasked)
        case .collectMasked where masked.count == sharedKeys.count || expired:
            guard let graph, masked.count >= t,
                  sharedKeys.allSatisfy({ Set(graph.neighbours(of: $0)).intersection(masked).count >= t }) else {
                return fail("too few masked vectors (\(masked.count)) to unmask: every neighbourhood needs \(t) survivors")
            }
            next(.unmask)
        case .unmask where answeredUnmask.count == masked.count || expired:
            finish()
        default:
            break
        }
    }

    /// Where the cohort stands, without its state: what a poller keeps between polls (a kept
    /// copy of the cohort would make the next masked vector copy the whole running sum).
    public struct Outcome: Sendable {
        public var stage: Stage
        public var result: SecAggResult?
        public var failure: String?
    }

    public var outcome: Outcome { Outcome(stage: stage, result: result, failure: failure) }

    /// Live counts for status queries.
    public var counts: [String: Int] {
        ["expected": expected.count, "keys": keys.count, "shared": sharedKeys.count, "masked": masked.count, "unmasked": answeredUnmask.count]
    }

    private func expect(_ id: String, in wanted: Stage) throws(SecAggError) {
        guard expected.contains(id) else { throw SecAggError(.unknownParticipant, "\(id) is not a participant of this round") }
        guard stage == wanted else {
            if stage == .failed { throw SecAggError(.failed, "this round's secure aggregation failed: \(failure ?? "")") }
            throw SecAggError(.outOfOrder, "stage \(wanted.rawValue) is not open: the round is at \(stage.rawValue)")
        }
    }

    mutating func fail(_ reason: String) {
        stage = .failed
        failure = reason
        sum = []
        bundles = [:]
    }
}
