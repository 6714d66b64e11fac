import Crypto
import Foundation

/// One participant's side of a SecAgg+ round (stages 0–3). It keeps its secrets — the masking
/// seed and the masking private key — and reveals, per neighbour, at most one of the two shares
/// it holds for it: the seed share of a neighbour that survived, or the key share of one that
/// dropped, never both (both would unmask that neighbour's update).
public struct SecAggParticipant: Sendable {
    public let id: String
    public let round: String
    public let config: SecAggConfig
    let keys = ParticipantKeys()
    let seed: [UInt8]
    var me: SecAggNeighbour?
    var neighbours: [String: SecAggNeighbour] = [:]
    /// Shares this participant holds of its neighbours' secrets, by owner.
    var held: [String: (seedShare: [UInt8], keyShare: [UInt8])] = [:]
    var revealedSeeds: Set<String> = []
    var revealedKeys: Set<String> = []

    public init(id: String, round: String, config: SecAggConfig) {
        self.id = id
        self.round = round
        self.config = config
        var generator = SystemRandomNumberGenerator()
        seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Stage 0: the public keys to advertise.
    public var publicKeys: (masking: String, sharing: String) {
        (Data(keys.maskingPublic).base64EncodedString(), Data(keys.sharingPublic).base64EncodedString())
    }

    /// Stage 1: given the neighbourhood (itself included), one share bundle per neighbour (by id).
    public mutating func shareKeys(_ list: [SecAggNeighbour]) throws(SecAggError) -> [String: [UInt8]] {
        guard list.count >= config.reconstructionThreshold, list.count <= max(config.numShares, 1) else {
            throw SecAggError(.invalid, "\(list.count) neighbours: must be between the threshold \(config.reconstructionThreshold) and num_shares \(config.numShares)")
        }
        guard Set(list.map(\.id)).count == list.count, Set(list.map(\.index)).count == list.count, list.allSatisfy({ $0.index >= 1 }) else {
            throw SecAggError(.invalid, "neighbour ids and indices must be distinct, indices 1 or more")
        }
        let masking = list.map(\.maskingKey), sharing = list.map(\.sharingKey)
        guard Set(masking).count == list.count, Set(sharing).count == list.count, Set(masking).isDisjoint(with: sharing) else {
            throw SecAggError(.invalid, "two neighbours advertise the same public key")
        }
        guard let mine = list.first(where: { $0.id == id }), mine.maskingKey == publicKeys.masking, mine.sharingKey == publicKeys.sharing else {
            throw SecAggError(.invalid, "the neighbourhood does not hold this participant with its own keys")
        }
        me = mine
        neighbours = Dictionary(uniqueKeysWithValues: list.map { ($0.id, $0) })
        let holders = list.map { UInt32($0.index) }
        let seedShares = Shamir.split(seed, threshold: config.reconstructionThreshold, holders: holders)
        let keyShares = Shamir.split([UInt8](keys.masking.rawRepresentation), threshold: config.reconstructionThreshold, holders: holders)
        var bundles: [String: [UInt8]] = [:]
        for (i, neighbour) in list.enumerated() {
            bundles[neighbour.id] = try ShareBundle.seal(seedShare: seedShares[i], keyShare: keyShares[i], sender: keys.sharing,
                                                         recipient: try Self.decodeKey(neighbour.sharingKey), round: round, from: id, to: neighbour.id)
        }
        return bundles
    }

    /// Stage 2, first half: the bundles addressed to this participant, by sender. Their senders
    /// are the neighbours that its mask will pair with.
    public mutating func receive(_ bundles: [String: [UInt8]]) throws(SecAggError) {
        guard me != nil else { throw SecAggError(.outOfOrder, "share bundles before the neighbourhood") }
        guard bundles[id] != nil, bundles.count >= config.reconstructionThreshold else {
            throw SecAggError(.failed, "\(bundles.count) share bundles (its own among them) — fewer than the threshold \(config.reconstructionThreshold) or without its own")
        }
        var opened: [String: (seedShare: [UInt8], keyShare: [UInt8])] = [:]
        for (sender, bundle) in bundles {
            guard let neighbour = neighbours[sender] else { throw SecAggError(.invalid, "a share bundle from \(sender), who is not a neighbour") }
            opened[sender] = try ShareBundle.open(bundle, recipient: keys.sharing, sender: try Self.decodeKey(neighbour.sharingKey),
                                                  round: round, from: sender, to: id)
        }
        held = opened
    }

    /// Stage 2, second half: the masked vector of `values` (the update's difference from the
    /// global model) weighted by `examples`: element 0 is the weight (examples capped at
    /// max_weight), element j + 1 the quantized weight/max_weight × values[j], plus this
    /// participant's seed mask and ± a pairwise mask per neighbour that sent it a bundle
    /// (+ when its index is above the neighbour's), all mod the modulus.
    public func mask(_ values: [Float], examples: Int) throws(SecAggError) -> [UInt32] {
        guard let me, !held.isEmpty else { throw SecAggError(.outOfOrder, "a masked vector before the share bundles") }
        guard examples >= 1 else { throw SecAggError(.invalid, "the example count must be positive") }
        let weight = min(Double(examples), config.maxWeight)
        let ratio = weight / config.maxWeight
        let quantizer = Quantizer(clipping: config.clippingRange, levels: config.quantizationRange)
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw SecAggError(.invalid, "value \(bad) is not finite") }
        var vector = [UInt32(weight.rounded(.down))] + (try quantizer.quantize(values.map { ratio * Double($0) }))
        try MaskGenerator.apply(seed: seed, sign: 1, to: &vector)
        for peer in held.keys where peer != id {
            guard let neighbour = neighbours[peer] else { continue }
            let pairwise = try ParticipantKeys.pairwiseSeed(keys.masking, peer: try Self.decodeKey(neighbour.maskingKey))
            try MaskGenerator.apply(seed: pairwise, sign: me.index > neighbour.index ? 1 : -1, to: &vector)
        }
        let modulus = config.modulusMask
        for j in vector.indices { vector[j] &= modulus }
        return vector
    }

    /// Stage 3: for each surviving neighbour the share of its seed, for each dropped one the share
    /// of its masking key (by owner). Refuses a request that names one neighbour both ways, or —
    /// across calls — asks for the other share of a neighbour already answered for.
    public mutating func unmask(active: [String], dropped: [String]) throws(SecAggError) -> [String: [UInt8]] {
        guard !held.isEmpty else { throw SecAggError(.outOfOrder, "an unmask request before the share bundles") }
        let survivors = Set(active), lost = Set(dropped)
        guard survivors.contains(id), survivors.isDisjoint(with: lost) else {
            throw SecAggError(.invalid, "the unmask request names a neighbour as both surviving and dropped, or not this participant as surviving")
        }
        guard revealedKeys.isDisjoint(with: survivors), revealedSeeds.isDisjoint(with: lost) else {
            throw SecAggError(.invalid, "the unmask request contradicts an earlier one")
        }
        var shares: [String: [UInt8]] = [:]
        for (owner, pair) in held {
            if survivors.contains(owner) {
                shares[owner] = pair.seedShare
                revealedSeeds.insert(owner)
            } else if lost.contains(owner) {
                shares[owner] = pair.keyShare
                revealedKeys.insert(owner)
            }
        }
        return shares
    }

    static func decodeKey(_ text: String) throws(SecAggError) -> [UInt8] {
        guard let data = Data(base64Encoded: text), data.count == 32 else { throw SecAggError(.invalid, "a public key must be 32 bytes of base64") }
        return [UInt8](data)
    }
}
