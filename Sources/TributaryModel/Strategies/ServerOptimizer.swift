import Foundation

/// A server optimizer (Reddi et al. 2021, "Adaptive Federated Optimization"; Hsu et al. 2019
/// for FedAvgM), applied **once per round at the controller** after the example-weighted
/// reduce of all combiners' partials, on the pseudo-gradient
///
///     Δ = x̄ − x        (x = current global model, x̄ = FedAvg of the round's updates)
///
/// Everything is elementwise over float32/float64 tensors: values are widened to Double,
/// updated, and rounded back to the tensor's dtype (optimizer state is stored in the tensor's
/// dtype too, like NumPy state in Flower). Integer tensors are refused (`.unsupportedDType`),
/// as by `FedAvgAccumulator`. A step is all-or-nothing: if any new value is not finite it
/// throws `.nonFinite` and the state is left as it was.
///
/// `State` is `Codable` and bit-exact (`TensorBuffer`): store it after each round (SQLite),
/// restore it after a restart, and the next step is identical.
public protocol ServerOptimizer: Sendable {
    associatedtype State: Codable, Sendable, Equatable
    var state: State { get set }
    /// The next global model from the current one and the round's FedAvg.
    mutating func step(current: Model, average: Model) throws(ModelError) -> Model
}

/// The optimizer a session's settings call for, type-erased for the controller.
public enum AnyServerOptimizer: Sendable, Equatable {
    case fedadam(FedAdam)
    case fedyogi(FedYogi)
    case fedadagrad(FedAdagrad)
    case fedavgm(FedAvgM)
    case fedopt(FedOpt)

    /// `nil` when the aggregator uses no server optimizer.
    public init?(settings s: AggregatorSettings) {
        switch s.kind {
        case .fedadam: self = .fedadam(FedAdam(eta: s.eta, beta1: s.beta1, beta2: s.beta2, tau: s.tau, biasCorrection: s.biasCorrection))
        case .fedyogi: self = .fedyogi(FedYogi(eta: s.eta, beta1: s.beta1, beta2: s.beta2, tau: s.tau))
        case .fedadagrad: self = .fedadagrad(FedAdagrad(eta: s.eta, tau: s.tau))
        case .fedavgm: self = .fedavgm(FedAvgM(serverLearningRate: s.serverLearningRate, momentum: s.momentum))
        case .fedopt: self = .fedopt(FedOpt(method: s.serverOpt, learningRate: s.eta, beta1: s.beta1, beta2: s.beta2, tau: s.tau))
        default: return nil
        }
    }

    public mutating func step(current: Model, average: Model) throws(ModelError) -> Model {
        switch self {
        case .fedadam(var o): defer { self = .fedadam(o) }; return try o.step(current: current, average: average)
        case .fedyogi(var o): defer { self = .fedyogi(o) }; return try o.step(current: current, average: average)
        case .fedadagrad(var o): defer { self = .fedadagrad(o) }; return try o.step(current: current, average: average)
        case .fedavgm(var o): defer { self = .fedavgm(o) }; return try o.step(current: current, average: average)
        case .fedopt(var o): defer { self = .fedopt(o) }; return try o.step(current: current, average: average)
        }
    }

    /// The optimizer's state as JSON (for a SQLite column).
    public func encodedState() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        switch self {
        case .fedadam(let o): return try encoder.encode(o.state)
        case .fedyogi(let o): return try encoder.encode(o.state)
        case .fedadagrad(let o): return try encoder.encode(o.state)
        case .fedavgm(let o): return try encoder.encode(o.state)
        case .fedopt(let o): return try encoder.encode(o.state)
        }
    }

    /// Replaces the state with one saved by `encodedState()` (hyperparameters stay as configured).
    public mutating func restoreState(from data: Data) throws {
        let d = JSONDecoder()
        switch self {
        case .fedadam(var o): o.state = try d.decode(FedAdam.State.self, from: data); self = .fedadam(o)
        case .fedyogi(var o): o.state = try d.decode(FedYogi.State.self, from: data); self = .fedyogi(o)
        case .fedadagrad(var o): o.state = try d.decode(FedAdagrad.State.self, from: data); self = .fedadagrad(o)
        case .fedavgm(var o): o.state = try d.decode(FedAvgM.State.self, from: data); self = .fedavgm(o)
        case .fedopt(var o): o.state = try d.decode(FedOpt.State.self, from: data); self = .fedopt(o)
        }
    }
}

/// One elementwise optimizer step over every float coordinate.
///
/// `rule(x, Δ, &s0, &s1)` returns the new value of coordinate x given Δ = x̄ − x and updates
/// that coordinate's state in up to two buffers (`buffers`, created as zeros on the first
/// step). Results and state are committed only if every new value is finite.
func elementwiseStep(
    current: Model, average: Model, buffers: inout [TensorBuffer], count k: Int,
    _ rule: (_ x: Double, _ delta: Double, _ s0: inout Double, _ s1: inout Double) -> Double
) throws(ModelError) -> Model {
    let spec = current.spec
    try requireFloat(spec)
    try requireSameSpec(spec, average.spec)
    var state = buffers.isEmpty ? (0..<k).map { _ in TensorBuffer(zeros: spec) } : buffers
    guard state.count == k, state.allSatisfy({ $0.spec == spec }) else {
        throw .specMismatch("optimizer state was built for a different model layout")
    }
    var out = current.data
    let none = [Double](repeating: 0, count: 0)
    for (ti, t) in spec.tensors.enumerated() where t.count > 0 {
        let x = readTensor(current.data, spec, ti)
        let xbar = readTensor(average.data, spec, ti)
        var s0 = k > 0 ? readTensor(state[0].bytes, spec, ti) : none
        var s1 = k > 1 ? readTensor(state[1].bytes, spec, ti) : none
        var y = [Double](repeating: 0, count: t.count)
        for i in 0..<t.count {
            var a = k > 0 ? s0[i] : 0
            var b = k > 1 ? s1[i] : 0
            y[i] = rule(x[i], xbar[i] - x[i], &a, &b)
            guard y[i].isFinite, a.isFinite, b.isFinite,
                  t.dtype == .float64 || (Float(y[i]).isFinite && Float(a).isFinite && Float(b).isFinite)
            else { throw .nonFinite(tensor: t.name) }
            if k > 0 { s0[i] = a }
            if k > 1 { s1[i] = b }
        }
        writeTensor(&out, spec, ti, y)
        if k > 0 { writeTensor(&state[0].bytes, spec, ti, s0) }
        if k > 1 { writeTensor(&state[1].bytes, spec, ti, s1) }
    }
    let result = try Model(spec: spec, data: out)
    buffers = state
    return result
}
