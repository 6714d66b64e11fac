import Foundation
import Testing
@testable import TributaryModel

/// The optimizers in the forms of the peers: Flower 1.42's FedAdam in float64 (values printed
/// by Flower's own `flwr.serverapp.strategy.FedAdam`, Tests/peers/flower_fedadam_fixture.py),
/// the three FedAdam corrections against each other, and FEDn 0.33's fedopt (v₀ = τ², no bias
/// correction) against its formula written out.
///
/// Flower's float64 result is matched bit for bit wherever the bias-correction scalar
/// η_t = η·√(1 − β₂^(t+1))/(1 − β₁^(t+1)) is: round 1 (exponent 2, exact everywhere). From
/// round 2 on NumPy's `np.power` on AVX-512 machines is Intel SVML's, which is not correctly
/// rounded (0.99³ gives 0.9702989999999999, libm's `pow` 0.970299), so η_t — and with it the
/// result — can differ in its last bits. Measured here: ≤ 7e-17 absolute on values ≤ 3.
@Suite struct PeerFormulaTests {
    typealias F = StrategyFixtures

    static func float64(_ values: [Double]) throws -> Model {
        let spec = ModelSpec(tensors: [TensorSpec(name: "w", dtype: .float64, shape: [values.count])])
        return try Model(spec: spec, data: values.withUnsafeBytes { Array($0) })
    }

    static func doubles(_ m: Model) -> [Double] {
        m.data.withUnsafeBytes { raw in (0..<m.spec.parameterCount).map { raw.load(fromByteOffset: $0 * 8, as: Double.self) } }
    }

    @Test func fedAdamReproducesFlowersFloat64Results() throws {
        let x0: [Double] = [1.0, -2.0, 0.5, 3.25, -0.125, 0.001]
        let averages: [[Double]] = [
            [2.0, -1.5, 0.25, 3.0, 0.5, 0.002],
            [1.2, -1.2, 0.75, 3.5, -0.25, -0.001],
            [1.7, -0.3, 0.6, 2.75, 0.125, 0.0005],
        ]
        let flower: [[Double]] = [
            [1.0735108701389573, -1.9272098246663267, 0.42860963573043576, 3.1786096357304356, -0.051923249172887015, 0.007749634440031529],
            [1.1379520056860621, -1.8431972041557996, 0.4433304453232533, 3.1933304453232534, -0.016949873502700018, -0.018794503961354493],
            [1.2121870061265254, -1.7590262248743787, 0.4750003021579866, 3.159591601947656, 0.023252597626504022, 0.003837990458429353],
        ]
        var opt = FedAdam()  // Flower's defaults and its bias correction
        var x = try Self.float64(x0)
        for (round, (average, expected)) in zip(averages, flower).enumerated() {
            x = try opt.step(current: x, average: try Self.float64(average))
            if round == 0 {
                #expect(Self.doubles(x) == expected)
            } else {
                for (got, want) in zip(Self.doubles(x), expected) {
                    #expect(abs(got - want) <= 1e-15 * max(1, abs(want)), "round \(round + 1): \(got) vs Flower's \(want)")
                }
            }
            // Continue from Flower's own values, as the fixture does.
            x = try Self.float64(expected)
        }
    }

    /// Round 1 from the mixed fixture, Δ = (1, 0.5, −0.25), m = 0.1Δ, v = 0.01Δ²:
    /// flower η₁ = 0.1·√(1 − 0.99²)/(1 − 0.9²); adam divides m and v by 0.1 and 0.01; none uses m, v as they are.
    @Test func fedAdamsThreeBiasCorrections() throws {
        let delta: [Double] = [1, 0.5, -0.25], x0: [Double] = [1, -2, 0.5]
        let etaFlower = 0.1 * (1 - 0.99 * 0.99).squareRoot() / (1 - 0.9 * 0.9)
        let expected: [FedAdam.BiasCorrection: [Double]] = [
            .flower: zip(x0, delta).map { x, d in x + etaFlower * (0.1 * d) / ((0.01 * d * d).squareRoot() + 1e-3) },
            .adam: zip(x0, delta).map { x, d in x + 0.1 * d / (abs(d) + 1e-3) },
            .none: zip(x0, delta).map { x, d in x + 0.1 * (0.1 * d) / (0.1 * abs(d) + 1e-3) },
        ]
        for (correction, values) in expected {
            var opt = FedAdam(biasCorrection: correction)
            F.expectClose(F.values(try opt.step(current: F.x0(), average: F.avg1())), values)
        }
    }

    /// FEDn's fedopt, round 1 and 2, written out with FEDn's defaults (η 1e-3, β₁ 0.9, β₂ 0.99,
    /// τ 1e-4) for each `serveropt`.
    @Test(arguments: FedOpt.Method.allCases)
    func fednFedOptTwoRounds(method: FedOpt.Method) throws {
        let (b1, b2, lr, tau) = (0.9, 0.99, 1e-3, 1e-4)
        var (m, v) = ([Double](repeating: 0, count: 3), [Double](repeating: tau * tau, count: 3))
        var x = F.values(try F.x0())
        var opt = FedOpt(method: method)
        var model = try F.x0()
        for (round, average) in [try F.avg1(), try F.avg2()].enumerated() {
            let xbar = F.values(average)
            for i in 0..<3 {
                let g = xbar[i] - x[i]
                m[i] = round == 0 ? g * (1 - b1) : m[i] * b1 + g * (1 - b1)
                switch method {
                case .adam: v[i] = v[i] * b2 + g * g * (1 - b2)
                case .yogi: v[i] -= (1 - b2) * g * g * (v[i] - g * g > 0 ? 1 : (v[i] - g * g < 0 ? -1 : 0))
                case .adagrad: v[i] += g * g
                }
                x[i] += lr * m[i] / (v[i].squareRoot() + tau)
            }
            model = try opt.step(current: model, average: average)
            F.expectClose(F.values(model), x)
            // Results are stored back in each tensor's dtype, so continue from the stored values.
            x = F.values(model)
        }
        #expect(opt.state.step == 2)
    }
}
