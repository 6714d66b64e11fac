import Foundation

/// FedAdam (Reddi et al. 2021, Algorithm 2 with Adam), with Adam's bias correction
/// (Kingma & Ba 2015, Algorithm 1). At step t = 1, 2, … with Δ = x̄ − x, elementwise:
///
///     m ← β₁·m + (1 − β₁)·Δ                 m₀ = 0
///     v ← β₂·v + (1 − β₂)·Δ²                v₀ = 0
///     m̂ = m / (1 − β₁ᵗ)      v̂ = v / (1 − β₂ᵗ)
///     x ← x + η·m̂ / (√v̂ + τ)
///
/// This is the form the issue writes. Flower's `FedAdam` instead folds the correction into
/// the rate, η_t = η·√(1 − β₂ᵗ)/(1 − β₁ᵗ), and computes x + η_t·m/(√v + τ) — the same update
/// with τ scaled by √(1 − β₂ᵗ) — and counts t as `server_round + 1`. We count t from 1 per
/// optimizer step (kept in `State`, so a restart does not change it).
///
/// Defaults: η = 0.1, β₁ = 0.9, β₂ = 0.99 (issue 4 and Flower), τ = 1e-3 (issue 4; Flower's
/// default is 1e-9). State: t, m and v, each the size of the model.
public struct FedAdam: ServerOptimizer, Equatable {
    public struct State: Codable, Sendable, Equatable {
        /// Steps taken so far (t of the last step).
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

    public init(eta: Double = 0.1, beta1: Double = 0.9, beta2: Double = 0.99, tau: Double = 1e-3) {
        self.eta = eta
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
    }

    public mutating func step(current: Model, average: Model) throws(ModelError) -> Model {
        let t = state.step + 1
        let (b1, b2, eta, tau) = (beta1, beta2, eta, tau)
        let c1 = 1 - Foundation.pow(b1, Double(t))
        let c2 = 1 - Foundation.pow(b2, Double(t))
        let next = try elementwiseStep(current: current, average: average, buffers: &state.moments, count: 2) { x, d, m, v in
            m = b1 * m + (1 - b1) * d
            v = b2 * v + (1 - b2) * d * d
            return x + eta * (m / c1) / ((v / c2).squareRoot() + tau)
        }
        state.step = t
        return next
    }
}
