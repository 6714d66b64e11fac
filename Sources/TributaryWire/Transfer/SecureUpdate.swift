import Foundation
import TributaryModel
import TributarySecAgg

/// The model side of secure aggregation: participants mask the difference of their trained
/// model from the round's global model (small values, so clipping at ±clipping_range rarely
/// binds and quantization is fine-grained), and the cohort's result becomes a partial aggregate
/// — global + Σ wᵢ·δᵢ / Σ wᵢ, weight Σ wᵢ — exactly as a plain combiner reports one.
public enum SecureUpdate {
    /// Every value of a float32 model, in order; secure aggregation handles float32 models only.
    public static func values(_ model: Model) throws(WireError) -> [Float] {
        guard model.spec.tensors.allSatisfy({ $0.dtype == .float32 }) else {
            throw WireError(.rejected, "secure aggregation needs a model of float32 tensors only")
        }
        return model.data.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
    }

    /// trained − global, scaled down to L2 norm `clipNorm` when it is longer (central DP's clipping).
    public static func delta(trained: Model, global: Model, clipNorm: Double?) throws(WireError) -> [Float] {
        guard trained.spec == global.spec else { throw WireError(.rejected, "the trained model's tensors differ from the global model's") }
        let a = try values(trained), b = try values(global)
        var delta = zip(a, b).map { $0 - $1 }
        if let clipNorm {
            let norm = delta.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            if norm > clipNorm { delta = delta.map { Float(Double($0) * clipNorm / norm) } }
        }
        return delta
    }

    /// The cohort's average model: global + weightedSum / totalWeight.
    public static func average(global: Model, result: SecAggResult) throws(WireError) -> Model {
        let base = try values(global)
        guard result.weightedSum.count == base.count, result.totalWeight > 0 else { throw WireError(.internal, "the secure aggregate does not fit the model") }
        let scale = Float(1 / result.totalWeight)
        var average = global
        average.data.withUnsafeMutableBytes { raw in
            for j in base.indices { raw.storeBytes(of: (base[j] + result.weightedSum[j] * scale).bitPattern.littleEndian, toByteOffset: 4 * j, as: UInt32.self) }
        }
        return average
    }

    /// The mean of each metric the cohort's survivors reported with their keys (the example
    /// counts are masked, so the mean is unweighted).
    public static func meanMetrics(_ reported: [[String: Double]]) -> [String: Double] {
        var sums: [String: (total: Double, count: Int)] = [:]
        for metrics in reported { for (name, value) in metrics { sums[name, default: (0, 0)].total += value; sums[name, default: (0, 0)].count += 1 } }
        return sums.mapValues { $0.total / Double($0.count) }
    }

    /// A masked vector as a frame payload: u32 little-endian.
    public static func encode(_ vector: [UInt32]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 4 * vector.count)
        bytes.withUnsafeMutableBytes { raw in for (j, v) in vector.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: 4 * j, as: UInt32.self) } }
        return bytes
    }

    public static func decode(_ payload: UnsafeRawBufferPointer) throws(WireError) -> [UInt32] {
        guard payload.count % 4 == 0 else { throw WireError(.malformed, "a masked vector is whole u32 values") }
        return (0..<(payload.count / 4)).map { UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
    }
}
