/// FedAdagrad (Reddi et al. 2021, Algorithm 2 with Adagrad), as in Flower's `FedAdagrad`
/// (which is FedOpt with β₁ = 0, so the first moment is just Δ). At each step, with
/// Δ = x̄ − x, elementwise:
///
///     v ← v + Δ²                 v₀ = 0
///     x ← x + η·Δ / (√v + τ)
///
/// Defaults: η = 0.1, τ = 1e-3 (Flower 1.42, `flwr/serverapp/strategy/fedadagrad.py`; the
/// legacy `flwr.server.strategy.FedAdagrad` had τ = 1e-9).
/// State: step count and v, the size of the model.
public struct FedAdagrad: ServerOptimizer, Equatable {
    public struct State: Codable, Sendable, Equatable {
        public var step: Int = 0
        /// `[]` before the first step, then `[v]` in the model's flat layout.
        public var moments: [TensorBuffer] = []
        public init() {}
    }

    public var eta: Double
    public var tau: Double
    public var state = State()

    public init(eta: Double = 0.1, tau: Double = 1e-3) {
        self.eta = eta
        self.tau = tau
    }

    public mutating func step(current: Model, average: Model) throws(ModelError) -> Model {
        let (eta, tau) = (eta, tau)
        let next = try elementwiseStep(current: current, average: average, buffers: &state.moments, count: 1) { x, d, v, _ in
            v += d * d
            return x + eta * d / (v.squareRoot() + tau)
        }
        state.step += 1
        return next
    }
}
