/// The aggregation strategies a session can name in `aggregator`, with where each one runs.
///
/// * Decomposable (`fedavg`, `fedprox`, `fedadam`, `fedyogi`, `fedadagrad`, `fedavgm`, and
///   FEDn's `fedopt`): the
///   example-weighted sum is folded at the combiners and reduced at the controller, which is
///   exactly a flat FedAvg over all clients (`FedAvgAccumulator`). Server optimizers then run
///   **once**, at the controller, on that reduced model (`ServerOptimizer`).
/// * Robust (`fedmedian`, `fedtrimmedavg`, `krum`, `multikrum`, `bulyan`): not decomposable;
///   they need every accepted update at once, so they run at the controller over all of them
///   (memory and traffic O(n × model) there; see each rule's doc comment).
public enum AggregatorKind: String, CaseIterable, Sendable {
    case fedavg, fedprox, fedadam, fedyogi, fedadagrad, fedavgm, fedopt
    case fedmedian, fedtrimmedavg, krum, multikrum, bulyan

    /// Whether partial aggregates from combiners reduce exactly to the flat result.
    public var isDecomposable: Bool {
        switch self {
        case .fedavg, .fedprox, .fedadam, .fedyogi, .fedadagrad, .fedavgm, .fedopt: true
        case .fedmedian, .fedtrimmedavg, .krum, .multikrum, .bulyan: false
        }
    }

    /// Whether a stateful server optimizer runs at the controller after the weighted reduce.
    public var usesServerOptimizer: Bool {
        switch self {
        case .fedadam, .fedyogi, .fedadagrad, .fedavgm, .fedopt: true
        default: false
        }
    }

    /// The `aggregator_kwargs` keys this strategy accepts (besides the common ones).
    var specificKwargs: Set<String> {
        switch self {
        case .fedavg: []
        case .fedprox: []
        case .fedadam: ["eta", "eta_l", "beta_1", "beta_2", "tau", "bias_correction"]
        case .fedyogi: ["eta", "eta_l", "beta_1", "beta_2", "tau"]
        case .fedadagrad: ["eta", "eta_l", "tau"]
        case .fedavgm: ["server_learning_rate", "momentum"]
        case .fedopt: ["serveropt", "learning_rate", "beta1", "beta2", "tau"]
        case .fedmedian: []
        case .fedtrimmedavg: ["beta"]
        case .krum, .bulyan: ["num_malicious_clients"]
        case .multikrum: ["num_malicious_clients", "num_clients_to_keep"]
        }
    }

    /// Keys every strategy accepts; the central-DP keys only on decomposable ones.
    var acceptedKwargs: Set<String> {
        var keys = specificKwargs.union(["proximal_mu", "max_update_norm"])
        if isDecomposable { keys.formUnion(["clip_norm", "noise_multiplier", "dp_seed"]) }
        return keys
    }

    /// Every key any strategy knows (a key outside this set is "unknown", not "not applicable").
    static let allKwargs: Set<String> = [
        "eta", "eta_l", "beta_1", "beta_2", "tau", "server_learning_rate", "momentum", "beta",
        "num_malicious_clients", "num_clients_to_keep", "proximal_mu", "clip_norm",
        "noise_multiplier", "dp_seed", "max_update_norm", "bias_correction", "serveropt", "learning_rate", "beta1", "beta2",
    ]

    /// Flower 1.42's names for kwargs that Tributary (like Flower's earlier strategies) spells
    /// otherwise; either spelling is accepted.
    static let aliases: [String: String] = [
        "server_momentum": "momentum", "num_malicious_nodes": "num_malicious_clients", "num_nodes_to_select": "num_clients_to_keep",
    ]
}

/// A refused `aggregator` / `aggregator_kwargs`: `field` is the offending field's full name
/// (`aggregator`, `aggregator_kwargs.beta_1`), ready for a 400 reply.
public struct AggregatorSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field) \(message)" }
}
