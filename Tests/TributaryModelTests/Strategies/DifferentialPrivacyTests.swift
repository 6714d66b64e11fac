import Testing
@testable import TributaryModel

@Suite struct DifferentialPrivacyTests {
    typealias F = StrategyFixtures

    @Test func clipsALargeDeltaToExactlyC() throws {
        let global = try F.mixed([1, 2], 3)
        let update = try F.mixed([1 + 6, 2], 3 + 8)  // δ = (6, 0, 8), ‖δ‖ = 10
        #expect(try DifferentialPrivacy.updateNorm(update, relativeTo: global) == 10)
        let clipped = try DifferentialPrivacy.clip(update: update, relativeTo: global, clipNorm: 1)
        F.expectClose(F.values(clipped), [1.6, 2, 3.8])
        #expect(F.close(try DifferentialPrivacy.updateNorm(clipped, relativeTo: global), 1))
    }

    @Test func leavesASmallDeltaUnchanged() throws {
        let global = try F.mixed([1, 2], 3)
        let update = try F.mixed([1.3, 2], 3.4)  // ‖δ‖ ≈ 0.5
        #expect(try DifferentialPrivacy.clip(update: update, relativeTo: global, clipNorm: 1) == update)
        #expect(throws: ModelError.self) { try DifferentialPrivacy.clip(update: update, relativeTo: global, clipNorm: 0) }
    }

    @Test func noiseStddevIsZTimesCOverM() {
        #expect(F.close(DifferentialPrivacy.noiseStddev(noiseMultiplier: 1.2, clipNorm: 2, updateCount: 4), 0.6))
    }

    static func bigModel() throws -> Model {
        try Model(zeros: ModelSpec(tensors: [TensorSpec(name: "a", dtype: .float32, shape: [50_000]),
                                             TensorSpec(name: "b", dtype: .float64, shape: [250, 200])]))
    }

    @Test func seededNoiseIsReproducibleWithTheRightSpread() throws {
        let zero = try Self.bigModel()
        let sigma = 0.5
        let a = try DifferentialPrivacy.addNoise(to: zero, stddev: sigma, seed: 42)
        #expect(try DifferentialPrivacy.addNoise(to: zero, stddev: sigma, seed: 42) == a)
        #expect(try DifferentialPrivacy.addNoise(to: zero, stddev: sigma, seed: 43) != a)
        let samples = (0..<2).flatMap { ti in readTensor(a.data, a.spec, ti) }
        #expect(samples.count == 100_000)
        let n = Double(samples.count)
        let mean = samples.reduce(0, +) / n
        let sd = (samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot()
        #expect(abs(sd / sigma - 1) < 0.05, "sample sd \(sd)")
        #expect(abs(mean) < 5 * sigma / n.squareRoot(), "sample mean \(mean)")
        // Both halves of the Box–Muller pairs are used, none twice: the float64 draws are distinct.
        let doubles = readTensor(a.data, a.spec, 1)
        #expect(Set(doubles).count == doubles.count)
    }

    @Test func zeroNoiseIsIdentity() throws {
        let m = try F.mixed([1, 2], 3)
        #expect(try DifferentialPrivacy.addNoise(to: m, stddev: 0, seed: 7) == m)
        #expect(DifferentialPrivacy.drawSeed() < 1 << 53)
    }
}
