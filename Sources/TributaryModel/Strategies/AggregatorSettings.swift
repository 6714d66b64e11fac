/// A session's `aggregator` and `aggregator_kwargs`, checked and completed with defaults.
///
/// Defaults and their sources ("Flower" = Flower 1.42's `flwr/serverapp/strategy/`, "FEDn" =
/// FEDn 0.33's `fedn/network/combiner/aggregators/fedopt.py`):
///
/// | kwarg | default | source |
/// |---|---|---|
/// | `eta` | fedadam 0.1, fedyogi 0.01, fedadagrad 0.1 | Flower |
/// | `eta_l` | — (accepted, ignored: the client learning rate is the session's training config) | Flower |
/// | `beta_1`, `beta_2` | 0.9, 0.99 | Flower FedAdam/FedYogi |
/// | `tau` | fedadam 1e-3, fedyogi 1e-3, fedadagrad 1e-3 | Flower |
/// | `bias_correction` | fedadam `flower` (also `adam`, `none`; see `FedAdam`) | Flower |
/// | `server_learning_rate`, `momentum` (`server_momentum`) | 1.0, 0.0 | Flower FedAvgM |
/// | `serveropt` | fedopt `adam` (also `yogi`, `adagrad`) | FEDn |
/// | `learning_rate`, `beta1`, `beta2`, `tau` | fedopt 1e-3, 0.9, 0.99, 1e-4 | FEDn |
/// | `beta` | 0.2 | Flower FedTrimmedAvg |
/// | `num_malicious_clients` (`num_malicious_nodes`), f | 0 | Flower Krum/MultiKrum/Bulyan |
/// | `num_clients_to_keep` (`num_nodes_to_select`), m | 1 | Flower MultiKrum |
/// | `proximal_mu` | required for fedprox, else 0 | Flower FedProx (no default) |
/// | `clip_norm` (C), `noise_multiplier` (z) | off; give both to enable central DP | Flower server-side fixed clipping (both required) |
/// | `dp_seed` | none: the controller draws one and records it | — |
/// | `max_update_norm` | none (no bound) | — |
///
/// Keys are refused when unknown, and also when they do not apply to the chosen aggregator
/// (e.g. `beta_1` for `fedavg`, DP keys for robust rules), so typos fail at session creation;
/// a value of the wrong kind (a string for a number, an unknown variant name) names the field.
public struct AggregatorSettings: Sendable, Equatable {
    public var kind: AggregatorKind
    /// The server learning rate (FEDn's `learning_rate` for fedopt).
    public var eta: Double
    public var etaL: Double?
    public var beta1: Double
    public var beta2: Double
    public var tau: Double
    public var biasCorrection: FedAdam.BiasCorrection
    public var serverOpt: FedOpt.Method
    public var serverLearningRate: Double
    public var momentum: Double
    public var trimBeta: Double
    public var numMaliciousClients: Int
    /// Multi-Krum's m (capped at the round's n updates).
    public var numClientsToKeep: Int
    public var proximalMu: Double
    /// Central DP is on when `clipNorm` is set (then `noiseMultiplier` is set too).
    public var clipNorm: Double?
    public var noiseMultiplier: Double?
    public var dpSeed: UInt64?
    public var maxUpdateNorm: Double?

    /// The settings of `kind` with every default.
    public init(kind: AggregatorKind) {
        self.kind = kind
        switch kind {
        case .fedyogi: eta = 0.01
        case .fedopt: eta = 1e-3
        default: eta = 0.1
        }
        etaL = nil
        beta1 = 0.9
        beta2 = 0.99
        tau = kind == .fedopt ? 1e-4 : 1e-3
        biasCorrection = .flower
        serverOpt = .adam
        serverLearningRate = 1.0
        momentum = 0.0
        trimBeta = 0.2
        numMaliciousClients = 0
        numClientsToKeep = 1
        proximalMu = 0
        clipNorm = nil
        noiseMultiplier = nil
        dpSeed = nil
        maxUpdateNorm = nil
    }

    /// Whether central DP (clip at the combiners, noise at the controller) is on.
    public var usesDifferentialPrivacy: Bool { clipNorm != nil }

    /// Parses and checks `aggregator` and `aggregator_kwargs`; the error names the field.
    public static func parse(aggregator: String, kwargs: [String: AggregatorKwarg]?) throws(AggregatorSettingsError) -> AggregatorSettings {
        guard let kind = AggregatorKind(rawValue: aggregator) else {
            let known = AggregatorKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw AggregatorSettingsError(field: "aggregator", message: "'\(aggregator)' is not one of: \(known)")
        }
        var s = AggregatorSettings(kind: kind)
        var given: [String: (name: String, value: AggregatorKwarg)] = [:]
        for (name, value) in (kwargs ?? [:]).sorted(by: { $0.key < $1.key }) {
            let key = AggregatorKind.aliases[name] ?? name
            guard AggregatorKind.allKwargs.contains(key) else {
                throw AggregatorSettingsError(field: field(name), message: "is not a known aggregator kwarg")
            }
            guard kind.acceptedKwargs.contains(key) else {
                throw AggregatorSettingsError(field: field(name), message: "does not apply to aggregator \(kind.rawValue)")
            }
            if let other = given[key] {
                throw AggregatorSettingsError(field: field(name), message: "is the same kwarg as '\(other.name)'; give one")
            }
            given[key] = (name, value)
        }
        func value(_ key: String, _ ok: (Double) -> Bool, _ rule: String) throws(AggregatorSettingsError) -> Double? {
            guard let (name, v) = given[key] else { return nil }
            guard case .number(let d) = v else { throw AggregatorSettingsError(field: field(name), message: "must be a number (\(rule)), got \(v.shown)") }
            guard d.isFinite, ok(d) else { throw AggregatorSettingsError(field: field(name), message: "must be \(rule), got \(d)") }
            return d
        }
        func integer(_ key: String, min: Double, max: Double = 9_007_199_254_740_992) throws(AggregatorSettingsError) -> Double? {
            try value(key, { $0 >= min && $0 <= max && $0.rounded(.towardZero) == $0 }, "an integer ≥ \(Int(min))")
        }
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws(AggregatorSettingsError) -> T? where T.RawValue == String {
            guard let (name, v) = given[key] else { return nil }
            let allowed = T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            guard case .string(let text) = v, let choice = T(rawValue: text) else {
                throw AggregatorSettingsError(field: field(name), message: "must be one of \(allowed), got \(v.shown)")
            }
            return choice
        }
        let positive: (Double) -> Bool = { $0 > 0 }
        let unit: (Double) -> Bool = { $0 >= 0 && $0 < 1 }
        if let v = try value("eta", positive, "> 0") { s.eta = v }
        if let v = try value("learning_rate", positive, "> 0") { s.eta = v }
        if let v = try value("eta_l", positive, "> 0") { s.etaL = v }
        if let v = try value("beta_1", unit, "in [0,1)") { s.beta1 = v }
        if let v = try value("beta1", unit, "in [0,1)") { s.beta1 = v }
        if let v = try value("beta_2", unit, "in [0,1)") { s.beta2 = v }
        if let v = try value("beta2", unit, "in [0,1)") { s.beta2 = v }
        if let v = try value("tau", positive, "> 0") { s.tau = v }
        if let v = try choice("bias_correction", FedAdam.BiasCorrection.self) { s.biasCorrection = v }
        if let v = try choice("serveropt", FedOpt.Method.self) { s.serverOpt = v }
        if let v = try value("server_learning_rate", positive, "> 0") { s.serverLearningRate = v }
        if let v = try value("momentum", unit, "in [0,1)") { s.momentum = v }
        if let v = try value("beta", { $0 >= 0 && $0 < 0.5 }, "in [0,0.5)") { s.trimBeta = v }
        if let v = try integer("num_malicious_clients", min: 0, max: 1_000_000) { s.numMaliciousClients = Int(v) }
        if let v = try integer("num_clients_to_keep", min: 1, max: 1_000_000) { s.numClientsToKeep = Int(v) }
        if let v = try value("proximal_mu", { $0 >= 0 }, "≥ 0") { s.proximalMu = v }
        if let v = try value("clip_norm", positive, "> 0") { s.clipNorm = v }
        if let v = try value("noise_multiplier", { $0 >= 0 }, "≥ 0") { s.noiseMultiplier = v }
        if let v = try integer("dp_seed", min: 0) { s.dpSeed = UInt64(v) }
        if let v = try value("max_update_norm", positive, "> 0") { s.maxUpdateNorm = v }

        if kind == .fedprox, given["proximal_mu"] == nil {
            throw AggregatorSettingsError(field: field("proximal_mu"), message: "is required for aggregator fedprox")
        }
        if s.clipNorm != nil, s.noiseMultiplier == nil {
            throw AggregatorSettingsError(field: field("noise_multiplier"), message: "is required with clip_norm (use 0 to clip without noise)")
        }
        if s.clipNorm == nil, given["noise_multiplier"] != nil || given["dp_seed"] != nil {
            throw AggregatorSettingsError(field: field("clip_norm"), message: "is required with noise_multiplier and dp_seed")
        }
        return s
    }

    private static func field(_ key: String) -> String { "aggregator_kwargs.\(key)" }
}
