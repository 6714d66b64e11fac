import Crypto
import Foundation

extension SecAggCohort {
    /// Removes every survivor's seed mask and every dropped participant's pairwise masks with its
    /// surviving neighbours, then dequantizes: Σ wᵢvᵢ = max_weight · (S·2c/Q − k·c).
    mutating func finish() {
        let t = config.reconstructionThreshold
        guard let graph else { return fail("no ring") }
        let dropped = sharedKeys.subtracting(masked)
        do throws(SecAggError) {
            for id in masked.sorted() {
                guard let shares = seedShares[id], shares.count >= t else { throw SecAggError(.failed, "\(seedShares[id]?.count ?? 0) seed shares of \(id); \(t) needed") }
                try MaskGenerator.apply(seed: try Shamir.combine(shares, threshold: t), sign: -1, to: &sum)
            }
            for id in dropped.sorted() {
                guard let shares = keyShares[id], shares.count >= t, let index = graph.index(of: id), let advertised = keys[id] else {
                    throw SecAggError(.failed, "\(keyShares[id]?.count ?? 0) key shares of dropped \(id); \(t) needed")
                }
                let key: Curve25519.KeyAgreement.PrivateKey
                do { key = try .init(rawRepresentation: try Shamir.combine(shares, threshold: t)) } catch { throw SecAggError(.failed, "the key of \(id) does not reconstruct") }
                guard Data(key.publicKey.rawRepresentation).base64EncodedString() == advertised.masking else {
                    throw SecAggError(.failed, "the reconstructed key of \(id) is not the one it advertised")
                }
                // Each surviving neighbour j added sign(j, id)·PRG(s_j,id); take it off again.
                for peer in graph.neighbours(of: id) where masked.contains(peer) {
                    guard let peerIndex = graph.index(of: peer), let peerKey = keys[peer] else { continue }
                    let pairwise = try ParticipantKeys.pairwiseSeed(key, peer: try SecAggParticipant.decodeKey(peerKey.masking))
                    try MaskGenerator.apply(seed: pairwise, sign: peerIndex > index ? -1 : 1, to: &sum)
                }
            }
        } catch {
            return fail(error.message)
        }
        let modulus = config.modulusMask
        let quantizer = Quantizer(clipping: config.clippingRange, levels: config.quantizationRange)
        let count = masked.count
        let weighted = sum.dropFirst().map { Float(config.maxWeight * quantizer.dequantizeSum($0 & modulus, count: count)) }
        result = SecAggResult(participants: masked.sorted(), dropped: dropped.sorted(), totalWeight: Double(sum[0] & modulus), weightedSum: weighted)
        sum = []
        stage = .completed
    }
}
