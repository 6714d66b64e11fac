import TributaryModel

/// A trainer that does no training, for benchmarks: it returns the received model plus a small
/// deterministic change (`delta` added to every float value), reports a fixed example count,
/// and validates with fixed metrics. Rounds then measure the system — transfer, aggregation,
/// bookkeeping — not the learning. Integer tensors are returned unchanged.
///
/// With every client adding its own delta, the FedAvg of a round is the global model plus the
/// example-weighted mean delta, so the result stays checkable.
public struct NoopTrainer: Trainer {
    public let delta: Double
    public let numExamples: Int

    public init(delta: Double, numExamples: Int) {
        self.delta = delta
        self.numExamples = numExamples
    }

    /// The conventional benchmark client `index` (0-based): delta = 1e-3 × (index + 1).
    public init(clientIndex index: Int, numExamples: Int = 100) {
        self.init(delta: 1e-3 * Double(index + 1), numExamples: numExamples)
    }

    public func train(global: consuming Model, config: TrainingConfig, round: Int) async throws -> TrainingResult {
        var model = consume global  // unique when the caller handed it over: changed in place
        let tensors = model.spec.tensors
        let offsets = model.spec.offsets
        let delta = delta
        model.data.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            for (t, off) in zip(tensors, offsets) where t.count > 0 {
                switch t.dtype {
                case .float32: Self.add(Float(delta), to: base + off, count: t.count)
                case .float64: Self.add(delta, to: base + off, count: t.count)
                default: break
                }
            }
        }
        return TrainingResult(model: model, numExamples: numExamples, metrics: ["train_loss": 0])
    }

    public func validate(global: Model) async throws -> ValidationResult {
        ValidationResult(numExamples: numExamples, metrics: ["accuracy": 0, "loss": 0])
    }

    private static func add(_ d: Float, to p: UnsafeMutableRawPointer, count: Int) {
        let dv = SIMD16<Float>(repeating: d)
        var i = 0
        while i + 16 <= count {
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) + dv, toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: i * 4, as: Float.self) + d, toByteOffset: i * 4, as: Float.self)
            i += 1
        }
    }

    private static func add(_ d: Double, to p: UnsafeMutableRawPointer, count: Int) {
        for i in 0..<count {
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: i * 8, as: Double.self) + d, toByteOffset: i * 8, as: Double.self)
        }
    }

    /// A benchmark seed model: one float32 tensor `weights` of `parameters` values, filled
    /// deterministically (small values in [-0.5, 0.5), from a fixed-seed generator).
    public static func seedModel(parameters: Int, seed: UInt64 = 0) throws -> Model {
        precondition(parameters > 0, "a seed model needs at least one parameter")
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        var values = [Float](repeating: 0, count: parameters)
        for i in 0..<parameters {
            // splitmix64: fast, deterministic, good enough for filler values.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            values[i] = Float(z >> 40) / Float(1 << 24) - 0.5
        }
        return try Model(float32: [(name: "weights", shape: [parameters], values: values)])
    }
}
