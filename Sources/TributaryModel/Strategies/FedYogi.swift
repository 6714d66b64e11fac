/// FedYogi (Reddi et al. 2021, Algorithm 2 with Yogi), as Flower 1.42's `FedYogi`
/// (`flwr/serverapp/strategy/fedyogi.py`) computes it. At each step,
/// with Δ = x̄ − x, elementwise:
///
///     m ← β₁·m + (1 − β₁)·Δ                           m₀ = 0
///     v ← v − (1 − β₂)·Δ²·sign(v − Δ²)                v₀ = 0, sign(0) = 0
///     x ← x + η·m / (√v + τ)
///
/// No bias correction (neither Flower nor the paper's Algorithm 2 applies one to Yogi).
/// v stays ≥ 0: if v < Δ² it moves up towards Δ², else down by at most (1 − β₂)·v.
///
/// Defaults: η = 0.01, β₁ = 0.9, β₂ = 0.99, τ = 1e-3 (Flower 1.42).
/// State: step count, m and v, each the size of the model.
public struct FedYogi: ServerOptimizer, Equatable {
    public struct State: Codable, Sendable, Equatable {
        public var step: Int = 0
        /// `[]` before the first step, then `[m, v]` in the model's flat layout.
        public var moments: [TensorBuffer] = []
        public init() {}
    }

    public var eta: Double
    public var beta1: Double
    public var beta2: Double
    public var tau: Double
    public var state = State()

    public init(eta: Double = 0.01, beta1: Double = 0.9, beta2: Double = 0.99, tau: Double = 1e-3) {
        self.eta = eta
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
    }

    public mutating func step(current: Model, average: Model) throws(ModelError) -> Model {
        let (b1, b2, eta, tau) = (beta1, beta2, eta, tau)
        let next = try elementwiseStep(current: current, average: average, buffers: &state.moments, count: 2) { x, d, m, v in
            m = b1 * m + (1 - b1) * d
            let d2 = d * d
            let diff = v - d2
            let sign: Double = diff > 0 ? 1 : (diff < 0 ? -1 : 0)
            v = v - (1 - b2) * d2 * sign  // Flower's operation order
            return x + eta * m / (v.squareRoot() + tau)
        }
        state.step += 1
        return next
    }
}
