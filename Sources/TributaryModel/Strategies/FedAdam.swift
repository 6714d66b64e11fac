import Foundation

/// FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2 with Adam). At
/// step t = 1, 2, … (one per round), with Δ = x̄ − x, elementwise:
///
///     m ← β₁·m + (1 − β₁)·Δ                 m₀ = 0
///     v ← β₂·v + (1 − β₂)·Δ²                v₀ = 0
///
/// and then, by `bias_correction`:
///
///     flower (default)  x ← x + η_t·m / (√v + τ),   η_t = η·√(1 − β₂^(t+1)) / (1 − β₁^(t+1))
///     adam              x ← x + η·m̂ / (√v̂ + τ),     m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
///     none              x ← x + η·m / (√v + τ)
///
/// `flower` is Flower 1.42's `FedAdam` (`flwr/serverapp/strategy/fedadam.py`) operation for
/// operation: the correction is folded into the rate, τ is added to the uncorrected √v, and
/// the exponent is `server_round + 1` (our t + 1). `adam` is Kingma & Ba 2015, Algorithm 1;
/// `none` is the paper's Algorithm 2 as printed.
///
/// Defaults: η = 0.1, β₁ = 0.9, β₂ = 0.99, τ = 1e-3 (Flower 1.42, `flwr.serverapp.strategy`).
/// State: t, m and v, each the size of the model.
public struct FedAdam: ServerOptimizer, Equatable {
    public enum BiasCorrection: String, CaseIterable, Sendable {
        case flower, adam, none
    }

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
    public var biasCorrection: BiasCorrection
    public var state = State()

    public init(eta: Double = 0.1, beta1: Double = 0.9, beta2: Double = 0.99, tau: Double = 1e-3, biasCorrection: BiasCorrection = .flower) {
        self.eta = eta
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
        self.biasCorrection = biasCorrection
    }

    public mutating func step(current: Model, average: Model) throws(ModelError) -> Model {
        let t = state.step + 1
        let (b1, b2, eta, tau) = (beta1, beta2, eta, tau)
        let update: (Double, Double, Double) -> Double
        switch biasCorrection {
        case .flower:
            // Flower's operations in Flower's order: float64 results agree bit for bit except
            // where NumPy's own `pow` (SVML on AVX-512 machines, not correctly rounded) gives
            // η_t another last bit than libm's.
            let etaNorm = eta * Foundation.sqrt(1 - Foundation.pow(b2, Double(t) + 1)) / (1 - Foundation.pow(b1, Double(t) + 1))
            update = { x, m, v in x + etaNorm * m / (v.squareRoot() + tau) }
        case .adam:
            let c1 = 1 - Foundation.pow(b1, Double(t)), c2 = 1 - Foundation.pow(b2, Double(t))
            update = { x, m, v in x + eta * (m / c1) / ((v / c2).squareRoot() + tau) }
        case .none:
            update = { x, m, v in x + eta * m / (v.squareRoot() + tau) }
        }
        let next = try elementwiseStep(current: current, average: average, buffers: &state.moments, count: 2) { x, d, m, v in
            m = b1 * m + (1 - b1) * d
            v = b2 * v + (1 - b2) * (d * d)
            return update(x, m, v)
        }
        state.step = t
        return next
    }
}
