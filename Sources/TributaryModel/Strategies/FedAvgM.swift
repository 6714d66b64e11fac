/// FedAvgM (Hsu et al. 2019), as in Flower's `FedAvgM`. Flower's pseudo-gradient has the
/// opposite sign of Δ: g = x − x̄ = −Δ. At each step, elementwise:
///
///     g = x − x̄
///     if μ > 0:  b ← μ·b + g   (b₀ = 0, so the first step sets b = g, as Flower does)
///                g ← b
///     x ← x − η_s·g
///
/// With the defaults η_s = 1, μ = 0 (Flower 1.42 `FedAvgM`: `server_learning_rate=1.0`,
/// `server_momentum=0.0`) this is plain FedAvg, and like Flower we then return x̄ itself,
/// bit for bit. State: step count and b (only kept when μ > 0), the size of the model.
public struct FedAvgM: ServerOptimizer, Equatable {
    public struct State: Codable, Sendable, Equatable {
        public var step: Int = 0
        /// `[]` before the first step or when μ = 0, else `[b]` in the model's flat layout.
        public var momentum: [TensorBuffer] = []
        public init() {}
    }

    public var serverLearningRate: Double
    public var momentum: Double
    public var state = State()

    public init(serverLearningRate: Double = 1.0, momentum: Double = 0.0) {
        self.serverLearningRate = serverLearningRate
        self.momentum = momentum
    }

    public mutating func step(current: Model, average: Model) throws(ModelError) -> Model {
        let (lr, mu) = (serverLearningRate, momentum)
        if lr == 1, mu == 0 {
            try requireFloat(current.spec)
            try requireSameSpec(current.spec, average.spec)
            state.step += 1
            return average
        }
        let k = mu > 0 ? 1 : 0
        let next = try elementwiseStep(current: current, average: average, buffers: &state.momentum, count: k) { x, d, b, _ in
            var g = -d
            if mu > 0 {
                b = mu * b + g
                g = b
            }
            return x - lr * g
        }
        state.step += 1
        return next
    }
}
