import Foundation
import Testing
@testable import TributaryModel

/// Each optimizer over two rounds from x₀ = (1, −2, 0.5) with FedAvgs (2, −1.5, 0.25) and
/// (1.2, −1.2, 0.75); "w" is float64 and "b" float32. Expected values are hand-computed from
/// the formula in each type's doc comment (round-1 arithmetic written out; round 2 with NumPy
/// from the same formula).
@Suite struct ServerOptimizerTests {
    typealias F = StrategyFixtures

    @Test func fedAdamWithAdamsBiasCorrectionRounds1And2() throws {
        var opt = FedAdam(biasCorrection: .adam)  // η 0.1, β₁ 0.9, β₂ 0.99, τ 1e-3
        let x1 = try opt.step(current: F.x0(), average: F.avg1())
        // Round 1, Δ = (1, 0.5, −0.25): m = 0.1Δ, v = 0.01Δ², m̂ = m/0.1 = Δ, v̂ = v/0.01 = Δ²,
        // x += 0.1·Δ/(|Δ| + 0.001): 1 + 0.1/1.001, −2 + 0.05/0.501, 0.5 − 0.025/0.251.
        F.expectClose(F.values(x1), [1 + 0.1 / 1.001, -2 + 0.05 / 0.501, 0.5 - 0.025 / 0.251])
        F.expectClose(F.values(x1), [1.0999000999000998, -1.9001996007984032, 0.40039840637450197])
        #expect(opt.state.step == 1)
        F.expectClose(opt.state.moments[0].values(tensor: 0), [0.1, 0.05])
        F.expectClose(opt.state.moments[1].values(tensor: 0), [0.01, 0.0025])
        // Round 2: Δ₁ = 1.2 − 1.0999001 = 0.1000999, m = 0.09 + 0.01001 = 0.10001,
        // v = 0.0099 + 0.0001002 = 0.0100002, m̂ = m/0.19, v̂ = v/0.0199,
        // x = 1.0999001 + 0.1·0.526368/(0.708888 + 0.001) = 1.1740482.
        let x2 = try opt.step(current: x1, average: F.avg2())
        F.expectClose(F.values(x2), [1.174048156109796, -1.8009405336998137, 0.42188900473334945])
        #expect(opt.state.step == 2)
    }

    @Test func fedYogiTwoRounds() throws {
        var opt = FedYogi()  // η 0.01, β₁ 0.9, β₂ 0.99, τ 1e-3
        let x1 = try opt.step(current: F.x0(), average: F.avg1())
        // Round 1: v₀ = 0 < Δ², so v = 0.01Δ², m = 0.1Δ; x += 0.01·0.1Δ/(0.1|Δ| + 0.001).
        F.expectClose(F.values(x1), [1 + 0.001 / 0.101, -2 + 0.0005 / 0.051, 0.5 - 0.00025 / 0.026])
        let x2 = try opt.step(current: x1, average: F.avg2())
        F.expectClose(F.values(x2), [1.0205060104096222, -1.9770736829243682, 0.4913191140467936])
    }

    @Test func fedYogiSecondMomentShrinksWhenAboveDeltaSquared() throws {
        // v = 4 after a step of Δ = 20 (v = 0.01·400); then Δ = 1: v − Δ² > 0, so
        // v ← 4 − 0.01·1·1 = 3.99.
        var opt = FedYogi()
        let x = try F.vector([0])
        let x1 = try opt.step(current: x, average: F.vector([20]))
        _ = try opt.step(current: x1, average: F.vector([Float(TestModels.value(x1, 0, 0) + 1)]))
        F.expectClose(opt.state.moments[1].values(tensor: 0), [3.99])
    }

    @Test func fedAdagradTwoRounds() throws {
        var opt = FedAdagrad(tau: 1e-9)  // η 0.1; τ as Flower's legacy FedAdagrad
        let x1 = try opt.step(current: F.x0(), average: F.avg1())
        // Round 1: v = Δ², x += 0.1·Δ/(|Δ| + 1e-9) ≈ x + 0.1·sign(Δ).
        F.expectClose(F.values(x1), [1.1, -1.9, 0.4])
        // Round 2, first coordinate: Δ = 0.1, v = 1 + 0.01 = 1.01, x = 1.1 + 0.01/√1.01.
        let x2 = try opt.step(current: x1, average: F.avg2())
        F.expectClose(F.values(x2), [1.1 + 0.01 / 1.01.squareRoot(), -1.8186266531660664, 0.48137334730006603])
        F.expectClose(opt.state.moments[0].values(tensor: 0), [1.01, 0.25 + 0.49])
    }

    @Test func fedAvgMMomentumTwoRounds() throws {
        var opt = FedAvgM(serverLearningRate: 1.0, momentum: 0.9)
        let x1 = try opt.step(current: F.x0(), average: F.avg1())
        // Round 1: g = x − x̄ = (−1, −0.5, 0.25), b = g, x − b = x̄.
        F.expectClose(F.values(x1), [2.0, -1.5, 0.25])
        // Round 2: g = (0.8, −0.3, −0.5), b = 0.9·(−1, −0.5, 0.25) + g = (−0.1, −0.75, −0.275),
        // x = (2, −1.5, 0.25) − b = (2.1, −0.75, 0.525).
        let x2 = try opt.step(current: x1, average: F.avg2())
        F.expectClose(F.values(x2), [2.1, -0.75, 0.525])
        F.expectClose(opt.state.momentum[0].values(tensor: 0), [-0.1, -0.75])
    }

    @Test func fedAvgMServerLearningRateWithoutMomentum() throws {
        var opt = FedAvgM(serverLearningRate: 0.5, momentum: 0)
        let x1 = try opt.step(current: F.x0(), average: F.avg1())
        F.expectClose(F.values(x1), [1.5, -1.75, 0.375])  // x + 0.5·Δ
        #expect(opt.state.momentum.isEmpty)
    }

    @Test func fedAvgMDefaultsReturnTheAverageExactly() throws {
        var opt = FedAvgM()
        let avg = try F.avg1()
        #expect(try opt.step(current: F.x0(), average: avg) == avg)
    }

    /// Save the state after round 1 as JSON, restore it into a fresh optimizer: round 2 must be
    /// bit-identical, and so must the state after it.
    @Test(arguments: [AggregatorKind.fedadam, .fedyogi, .fedadagrad, .fedavgm, .fedopt])
    func stateCodableRoundTrip(kind: AggregatorKind) throws {
        let kwargs: [String: AggregatorKwarg]? = kind == .fedavgm ? ["momentum": 0.9, "server_learning_rate": 0.7] : nil
        let settings = try AggregatorSettings.parse(aggregator: kind.rawValue, kwargs: kwargs)
        var original = try #require(AnyServerOptimizer(settings: settings))
        let x1 = try original.step(current: F.x0(), average: F.avg1())
        let saved = try original.encodedState()
        var restored = try #require(AnyServerOptimizer(settings: settings))
        try restored.restoreState(from: saved)
        #expect(restored == original)
        let a = try original.step(current: x1, average: F.avg2())
        let b = try restored.step(current: x1, average: F.avg2())
        #expect(a == b)
        #expect(try original.encodedState() == restored.encodedState())
    }

    /// The optimizer runs once on the reduced model, so two combiners give the one-combiner
    /// result (to FedAvg's float rounding).
    @Test(arguments: [AggregatorKind.fedadam, .fedyogi, .fedadagrad, .fedavgm, .fedopt])
    func twoCombinersEqualOne(kind: AggregatorKind) throws {
        let spec = TestModels.mixedFloatSpec
        let updates = try (0..<5).map { try TestModels.floatModel(spec: spec, seed: 7 + UInt64($0)) }
        let weights: [Double] = [3, 1, 4, 1, 5]
        var flat = try FedAvgAccumulator(spec: spec)
        for (u, w) in zip(updates, weights) { try flat.add(u, weight: w) }
        var top = try FedAvgAccumulator(spec: spec)
        for group in [0..<2, 2..<5] {
            var combiner = try FedAvgAccumulator(spec: spec)
            for i in group { try combiner.add(updates[i], weight: weights[i]) }
            try top.add(combiner.average(), weight: combiner.totalWeight)
        }
        let settings = try AggregatorSettings.parse(aggregator: kind.rawValue, kwargs: kind == .fedavgm ? ["momentum": 0.9] : nil)
        var one = try #require(AnyServerOptimizer(settings: settings))
        var two = one
        let current = try TestModels.floatModel(spec: spec, seed: 99)
        let a = try one.step(current: current, average: flat.average())
        let b = try two.step(current: current, average: top.average())
        for (ti, t) in spec.tensors.enumerated() {
            for i in 0..<t.count {
                #expect(abs(TestModels.value(a, ti, i) - TestModels.value(b, ti, i)) <= 1e-5)
            }
        }
    }

    @Test func corruptStateIsRefused() throws {
        var opt = try #require(AnyServerOptimizer(settings: AggregatorSettings(kind: .fedadam)))
        _ = try opt.step(current: F.x0(), average: F.avg1())
        let json = String(decoding: try opt.encodedState(), as: UTF8.self)
        let truncated = json.replacingOccurrences(of: "\"data\":\"", with: "\"data\":\"AAAA")
        #expect(throws: (any Error).self) { try opt.restoreState(from: Data(truncated.utf8)) }
    }

    @Test func mismatchedModelsAndIntegerTensorsAreRefused() throws {
        var opt = FedAdam()
        #expect(throws: ModelError.self) { try opt.step(current: F.x0(), average: F.vector([1, 2, 3])) }
        let ints = try Model(zeros: ModelSpec(tensors: [TensorSpec(name: "i", dtype: .int32, shape: [2])]))
        #expect(throws: ModelError.unsupportedDType(.int32)) { try opt.step(current: ints, average: ints) }
        _ = try opt.step(current: F.x0(), average: F.avg1())
        // State built for one layout cannot step another.
        #expect(throws: ModelError.self) { try opt.step(current: F.vector([1, 2, 3]), average: F.vector([1, 2, 3])) }
        #expect(opt.state.step == 1)
    }

    @Test func nonFiniteStepLeavesStateUntouched() throws {
        var opt = FedAvgM(serverLearningRate: 1e30, momentum: 0)
        let before = opt.state
        #expect(throws: ModelError.nonFinite(tensor: "v")) {
            try opt.step(current: F.vector([0]), average: F.vector([1e20]))
        }
        #expect(opt.state == before)
    }
}
