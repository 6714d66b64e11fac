/// A session's `aggregator` and `aggregator_kwargs`, checked and completed with defaults.
///
/// Defaults and their sources ("issue" = issue 4, "Flower" = `flwr.server.strategy`):
///
/// | kwarg | default | source |
/// |---|---|---|
/// | `eta` | fedadam 0.1, fedyogi 0.01, fedadagrad 0.1 | issue + Flower (FedAdam/FedYogi); Flower FedAdagrad |
/// | `eta_l` | — (accepted, ignored: the client learning rate is the session's training config) | Flower |
/// | `beta_1`, `beta_2` | 0.9, 0.99 | issue + Flower FedAdam/FedYogi |
/// | `tau` | fedadam 1e-3, fedyogi 1e-3, fedadagrad 1e-9 | issue (Flower FedAdam says 1e-9); Flower FedYogi; Flower FedAdagrad |
/// | `server_learning_rate`, `momentum` | 1.0, 0.0 | issue + Flower FedAvgM (`server_momentum` there) |
/// | `beta` | 0.2 | issue + Flower FedTrimmedAvg |
/// | `num_malicious_clients` (f) | 0 | Flower Krum/Bulyan |
/// | `num_clients_to_keep` (m) | n − f, resolved per round | Blanchard et al. 2017 (Multi-Krum) |
/// | `proximal_mu` | required for fedprox, else 0 | Flower FedProx (no default) |
/// | `clip_norm` (C), `noise_multiplier` (z) | off; give both to enable central DP | Flower server-side fixed clipping (both required) |
/// | `dp_seed` | none: the controller draws one and records it | — |
/// | `max_update_norm` | none (no bound) | — |
///
/// Keys are refused when unknown, and also when they do not apply to the chosen aggregator
/// (e.g. `beta_1` for `fedavg`, DP keys for robust rules), so typos fail at session creation.
public struct AggregatorSettings: Sendable, Equatable {
    public var kind: AggregatorKind
    public var eta: Double
    public var etaL: Double?
    public var beta1: Double
    public var beta2: Double
    public var tau: Double
    public var serverLearningRate: Double
    public var momentum: Double
    public var trimBeta: Double
    public var numMaliciousClients: Int
    /// Multi-Krum's m; `nil` means n − f for the round's n updates.
    public var numClientsToKeep: Int?
    public var proximalMu: Double
    /// Central DP is on when `clipNorm` is set (then `noiseMultiplier` is set too).
    public var clipNorm: Double?
    public var noiseMultiplier: Double?
    public var dpSeed: UInt64?
    public var maxUpdateNorm: Double?

    /// The settings of `kind` with every default.
    public init(kind: AggregatorKind) {
        self.kind = kind
        eta = kind == .fedyogi ? 0.01 : 0.1
        etaL = nil
        beta1 = 0.9
        beta2 = 0.99
        tau = kind == .fedadagrad ? 1e-9 : 1e-3
        serverLearningRate = 1.0
        momentum = 0.0
        trimBeta = 0.2
        numMaliciousClients = 0
        numClientsToKeep = nil
        proximalMu = 0
        clipNorm = nil
        noiseMultiplier = nil
        dpSeed = nil
        maxUpdateNorm = nil
    }

    /// Whether central DP (clip at the combiners, noise at the controller) is on.
    public var usesDifferentialPrivacy: Bool { clipNorm != nil }

    /// Parses and checks `aggregator` and `aggregator_kwargs`; the error names the field.
    public static func parse(aggregator: String, kwargs: [String: Double]?) throws(AggregatorSettingsError) -> AggregatorSettings {
        guard let kind = AggregatorKind(rawValue: aggregator) else {
            let known = AggregatorKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw AggregatorSettingsError(field: "aggregator", message: "'\(aggregator)' is not one of: \(known)")
        }
        var s = AggregatorSettings(kind: kind)
        let kwargs = kwargs ?? [:]
        for key in kwargs.keys.sorted() {
            guard AggregatorKind.allKwargs.contains(key) else {
                throw AggregatorSettingsError(field: field(key), message: "is not a known aggregator kwarg")
            }
            guard kind.acceptedKwargs.contains(key) else {
                throw AggregatorSettingsError(field: field(key), message: "does not apply to aggregator \(kind.rawValue)")
            }
        }
        func value(_ key: String, _ ok: (Double) -> Bool, _ rule: String) throws(AggregatorSettingsError) -> Double? {
            guard let v = kwargs[key] else { return nil }
            guard v.isFinite, ok(v) else { throw AggregatorSettingsError(field: field(key), message: "must be \(rule), got \(v)") }
            return v
        }
        func integer(_ key: String, min: Double, max: Double = 9_007_199_254_740_992) throws(AggregatorSettingsError) -> Double? {
            try value(key, { $0 >= min && $0 <= max && $0.rounded(.towardZero) == $0 }, "an integer ≥ \(Int(min))")
        }
        let positive: (Double) -> Bool = { $0 > 0 }
        let unit: (Double) -> Bool = { $0 >= 0 && $0 < 1 }
        if let v = try value("eta", positive, "> 0") { s.eta = v }
        if let v = try value("eta_l", positive, "> 0") { s.etaL = v }
        if let v = try value("beta_1", unit, "in [0,1)") { s.beta1 = v }
        if let v = try value("beta_2", unit, "in [0,1)") { s.beta2 = v }
        if let v = try value("tau", positive, "> 0") { s.tau = v }
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

        if kind == .fedprox, kwargs["proximal_mu"] == nil {
            throw AggregatorSettingsError(field: field("proximal_mu"), message: "is required for aggregator fedprox")
        }
        if s.clipNorm != nil, s.noiseMultiplier == nil {
            throw AggregatorSettingsError(field: field("noise_multiplier"), message: "is required with clip_norm (use 0 to clip without noise)")
        }
        if s.clipNorm == nil, kwargs["noise_multiplier"] != nil || kwargs["dp_seed"] != nil {
            throw AggregatorSettingsError(field: field("clip_norm"), message: "is required with noise_multiplier and dp_seed")
        }
        return s
    }

    private static func field(_ key: String) -> String { "aggregator_kwargs.\(key)" }
}
