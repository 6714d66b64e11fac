import Foundation

/// FEDn's `fedopt` aggregator (`fedn/network/combiner/aggregators/fedopt.py`, FEDn 0.33),
/// operation for operation, but applied once at the controller on the reduce of every
/// combiner's partial, so it works with many combiners (FEDn's runs inside one combiner).
/// With g = x̄ − x (FEDn's pseudo-gradient, the example-weighted mean of client deltas),
/// elementwise, and `serveropt` choosing the second moment:
///
///     m ← β₁·m + (1 − β₁)·g                 (the first step sets m = (1 − β₁)·g)
///     adam     v ← β₂·v + (1 − β₂)·g²       v₀ = τ²
///     yogi     v ← v − (1 − β₂)·g²·sign(v − g²)
///     adagrad  v ← v + g²
///     x ← x + η·(m / (√v + τ))
///
/// No bias correction; v starts at τ², not 0 — the two ways this differs from Flower's
/// FedAdam/FedYogi/FedAdagrad. FEDn's `adagrad` keeps the β₁ momentum (Flower's has none).
///
/// Kwargs by FEDn's names and defaults: `serveropt` "adam", `learning_rate` (η) 1e-3,
/// `beta1` 0.9, `beta2` 0.99, `tau` 1e-4. State: step count, m and v.
public struct FedOpt: ServerOptimizer, Equatable {
    public enum Method: String, CaseIterable, Sendable {
        case adam, yogi, adagrad
    }

    public struct State: Codable, Sendable, Equatable {
        public var step: Int = 0
        /// `[]` before the first step, then `[m, v]` in the model's flat layout.
        public var moments: [TensorBuffer] = []
        public init() {}
    }

    public var method: Method
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var tau: Double
    public var state = State()

    public init(method: Method = .adam, learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.99, tau: Double = 1e-4) {
        self.method = method
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
    }

    public mutating func step(current: Model, average: Model) throws(ModelError) -> Model {
        let (b1, b2, lr, tau, method) = (beta1, beta2, learningRate, tau, method)
        let first = state.step == 0
        let next = try elementwiseStep(current: current, average: average, buffers: &state.moments, count: 2) { x, g, m, v in
            if first {
                m = g * (1 - b1)
                v = tau * tau
            } else {
                m = m * b1 + g * (1 - b1)
            }
            let p = g * g
            switch method {
            case .adam: v = v * b2 + p * (1 - b2)
            case .yogi:
                let diff = v - p
                let sign: Double = diff > 0 ? 1 : (diff < 0 ? -1 : 0)
                v = v + (sign * p) * -(1 - b2)
            case .adagrad: v = v + p
            }
            return x + (m / (v.squareRoot() + tau)) * lr
        }
        state.step += 1
        return next
    }
}
