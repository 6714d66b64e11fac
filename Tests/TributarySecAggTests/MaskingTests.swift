import Foundation
import Testing
@testable import TributarySecAgg

@Suite("Mask generator, quantizer and key agreement")
struct MaskingTests {
    @Test("The PRG is AES-256-CTR over zeros: known answer for the zero key, determinism, block boundaries, the whole seed matters")
    func prg() throws {
        // AES-256 of the zero block under the zero key (FIPS-197-style known answer): dc95c078a2408989ad48a21492842087.
        let zero = try MaskGenerator.mask(seed: [UInt8](repeating: 0, count: 32), count: 4)
        #expect(zero == [0x78c0_95dc, 0x8989_40a2, 0x14a2_48ad, 0x8720_8492])
        let seed = (0..<32).map { UInt8($0) }
        let long = try MaskGenerator.mask(seed: seed, count: MaskGenerator.block / 4 + 10)
        #expect(try MaskGenerator.mask(seed: seed, count: long.count) == long)
        // A slice generated from an offset equals the same slice of the whole stream.
        var part = [UInt32](repeating: 0, count: long.count)
        try MaskGenerator.apply(seed: seed, sign: 1, to: &part, offset: 0, count: long.count)
        #expect(part == long)
        var flipped = seed
        flipped[31] ^= 1
        #expect(try MaskGenerator.mask(seed: flipped, count: 8) != Array(long.prefix(8)))
        // +mask then −mask is the identity.
        var vector: [UInt32] = [1, 2, 3, .max]
        try MaskGenerator.apply(seed: seed, sign: 1, to: &vector)
        try MaskGenerator.apply(seed: seed, sign: -1, to: &vector)
        #expect(vector == [1, 2, 3, .max])
    }

    @Test("Quantization stays in [0, Q], clips at ±c, and a dequantized sum is within k steps")
    func quantizer() {
        let q = Quantizer(clipping: 2, levels: 1 << 10)
        var generator = SystemRandomNumberGenerator()
        #expect(q.quantize(-5, using: &generator) == 0 && q.quantize(5, using: &generator) == 1 << 10)
        #expect(q.quantize(0, using: &generator) == 512)            // exactly on a level: no rounding
        let values: [Double] = [0.3, -1.7, 1.999, -0.0001, 0.5]
        let sum = values.map { q.quantize($0, using: &generator) }.reduce(0, +)
        #expect(abs(q.dequantizeSum(sum, count: values.count) - values.reduce(0, +)) < Double(values.count) * q.step)
        // Unbiased: the mean of many roundings of 0.3 is 0.3 within a small fraction of a step.
        let many = (0..<20_000).map { _ in Double(q.quantize(0.3, using: &generator)) }
        #expect(abs(many.reduce(0, +) / Double(many.count) * q.step - 2 - 0.3) < q.step / 20)
    }

    @Test("Pairwise seeds agree from both ends; bundles open only for their recipient, sender and round")
    func keys() throws {
        let a = ParticipantKeys(), b = ParticipantKeys(), c = ParticipantKeys()
        #expect(try ParticipantKeys.pairwiseSeed(a.masking, peer: b.maskingPublic) == ParticipantKeys.pairwiseSeed(b.masking, peer: a.maskingPublic))
        #expect(try ParticipantKeys.pairwiseSeed(a.masking, peer: b.maskingPublic) != ParticipantKeys.pairwiseSeed(a.masking, peer: c.maskingPublic))
        let seedShare = [UInt8](repeating: 1, count: Shamir.shareLength), keyShare = [UInt8](repeating: 2, count: Shamir.shareLength)
        let bundle = try ShareBundle.seal(seedShare: seedShare, keyShare: keyShare, sender: a.sharing, recipient: b.sharingPublic, round: "r1", from: "a", to: "b")
        #expect(bundle.count == 12 + 2 * Shamir.shareLength + 16)
        let opened = try ShareBundle.open(bundle, recipient: b.sharing, sender: a.sharingPublic, round: "r1", from: "a", to: "b")
        #expect(opened.seedShare == seedShare && opened.keyShare == keyShare)
        #expect(throws: SecAggError.self) { try ShareBundle.open(bundle, recipient: c.sharing, sender: a.sharingPublic, round: "r1", from: "a", to: "b") }
        #expect(throws: SecAggError.self) { try ShareBundle.open(bundle, recipient: b.sharing, sender: a.sharingPublic, round: "r2", from: "a", to: "b") }
        #expect(throws: SecAggError.self) { try ShareBundle.open(bundle, recipient: b.sharing, sender: a.sharingPublic, round: "r1", from: "c", to: "b") }
        #expect(throws: SecAggError.self) { try ParticipantKeys.pairwiseSeed(a.masking, peer: [1, 2, 3]) }
    }

    @Test("Neighbourhoods: the whole ring when small, else itself and ⌊s/2⌋ on each side")
    func neighbourhoods() {
        let small = Neighbourhood(participants: ["c", "a", "b"], numShares: 5)
        #expect(small.ring == ["a", "b", "c"] && small.neighbours(of: "b") == ["a", "b", "c"] && small.index(of: "c") == 3)
        let ring = Neighbourhood(participants: (0..<7).map { "p\($0)" }, numShares: 3)
        #expect(ring.neighbours(of: "p0") == ["p6", "p0", "p1"] && ring.neighbours(of: "p3") == ["p2", "p3", "p4"])
        #expect(ring.neighbours(of: "ghost").isEmpty)
    }
}
