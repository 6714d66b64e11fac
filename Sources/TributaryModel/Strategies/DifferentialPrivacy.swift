/// Central differential privacy with fixed clipping (Andrew et al. 2021; McMahan et al. 2018
/// "DP-FedAvg"), as in Flower's server-side fixed clipping, for decomposable strategies.
///
/// At the combiner, before an update w_i is folded in, its delta from the global model x is
/// clipped to L2 norm C:
///
///     δ_i = w_i − x,    w_i ← x + δ_i · min(1, C / ‖δ_i‖₂)
///
/// and at the controller, after the reduce of m updates, Gaussian noise is added to every
/// coordinate of the aggregate (Flower: `noise_multiplier · clipping_norm / num_sampled_clients`):
///
///     x̄ ← x̄ + N(0, σ²),     σ = z · C / m
///
/// The noise comes from a seeded generator (`GaussianNoise`); the controller records the seed
/// so the round can be reproduced. σ = z·C/m is the sensitivity of an *unweighted* mean of
/// clipped updates; with example-count weights the sensitivity is C·max_i w_i / Σ_i w_i, so
/// a DP session should weight updates equally (Flower has the same caveat).
public enum DifferentialPrivacy {
    /// ‖w − x‖₂ over all float coordinates.
    public static func updateNorm(_ update: Model, relativeTo global: Model) throws(ModelError) -> Double {
        try requireFloat(global.spec)
        try requireSameSpec(global.spec, update.spec)
        return squaredDistance(update, global).squareRoot()
    }

    /// `global + δ·min(1, C/‖δ‖)` with δ = update − global. An update already within the
    /// bound is returned unchanged (bit for bit).
    public static func clip(update: Model, relativeTo global: Model, clipNorm: Double) throws(ModelError) -> Model {
        guard clipNorm.isFinite, clipNorm > 0 else { throw .malformed("clip norm must be positive and finite, got \(clipNorm)") }
        let norm = try updateNorm(update, relativeTo: global)
        guard norm.isFinite else { throw .nonFinite(tensor: "update delta norm") }
        guard norm > clipNorm else { return update }
        let factor = clipNorm / norm
        var out = update.data
        for ti in global.spec.tensors.indices {
            let x = readTensor(global.data, global.spec, ti)
            let w = readTensor(update.data, update.spec, ti)
            writeTensor(&out, global.spec, ti, zip(x, w).map { x, w in x + (w - x) * factor })
        }
        return try Model(spec: global.spec, data: out)
    }

    /// σ = z·C/m.
    public static func noiseStddev(noiseMultiplier z: Double, clipNorm c: Double, updateCount m: Int) -> Double {
        m > 0 ? z * c / Double(m) : 0
    }

    /// `aggregate` plus independent N(0, stddev²) noise on every float coordinate, drawn in
    /// flat-layout order from `GaussianNoise(seed:)`: the same seed gives the same result.
    public static func addNoise(to aggregate: Model, stddev: Double, seed: UInt64) throws(ModelError) -> Model {
        guard stddev.isFinite, stddev >= 0 else { throw .malformed("noise stddev must be finite and ≥ 0, got \(stddev)") }
        try requireFloat(aggregate.spec)
        var rng = GaussianNoise(seed: seed)
        var out = aggregate.data
        for (ti, t) in aggregate.spec.tensors.enumerated() where t.count > 0 {
            let y = readTensor(aggregate.data, aggregate.spec, ti).map { $0 + stddev * rng.normal() }
            guard y.allSatisfy({ t.dtype == .float64 ? $0.isFinite : Float($0).isFinite }) else {
                throw .nonFinite(tensor: t.name)
            }
            writeTensor(&out, aggregate.spec, ti, y)
        }
        return try Model(spec: aggregate.spec, data: out)
    }

    /// A fresh seed below 2⁵³, so it survives a JSON number / `dp_seed` kwarg exactly.
    public static func drawSeed() -> UInt64 {
        UInt64.random(in: 0..<(1 << 53))
    }
}
