import Testing
@testable import TributaryModel

@Suite struct AggregatorSettingsTests {
    func parse(_ name: String, _ kwargs: [String: AggregatorKwarg]? = nil) throws(AggregatorSettingsError) -> AggregatorSettings {
        try AggregatorSettings.parse(aggregator: name, kwargs: kwargs)
    }

    func field(_ name: String, _ kwargs: [String: AggregatorKwarg]?) -> String? {
        do { _ = try parse(name, kwargs); return nil } catch { return error.field }
    }

    @Test func defaults() throws {
        let adam = try parse("fedadam")
        #expect((adam.eta, adam.beta1, adam.beta2, adam.tau) == (0.1, 0.9, 0.99, 1e-3))
        let yogi = try parse("fedyogi", [:])
        #expect((yogi.eta, yogi.beta1, yogi.beta2, yogi.tau) == (0.01, 0.9, 0.99, 1e-3))
        let adagrad = try parse("fedadagrad")
        #expect((adagrad.eta, adagrad.tau) == (0.1, 1e-3))
        #expect(adam.biasCorrection == .flower)
        let fedopt = try parse("fedopt")
        #expect((fedopt.serverOpt, fedopt.eta, fedopt.beta1, fedopt.beta2, fedopt.tau) == (.adam, 1e-3, 0.9, 0.99, 1e-4))
        let avgm = try parse("fedavgm")
        #expect((avgm.serverLearningRate, avgm.momentum) == (1.0, 0.0))
        #expect(try parse("fedtrimmedavg").trimBeta == 0.2)
        let mk = try parse("multikrum")
        #expect(mk.numMaliciousClients == 0 && mk.numClientsToKeep == 1)
        let avg = try parse("fedavg")
        #expect(!avg.usesDifferentialPrivacy && avg.maxUpdateNorm == nil && avg.proximalMu == 0)
    }

    @Test func overridesAreApplied() throws {
        let s = try parse("fedadam", ["eta": 0.5, "eta_l": 0.01, "beta_1": 0, "tau": 1e-9, "clip_norm": 2,
                                      "noise_multiplier": 1.1, "dp_seed": 12345, "max_update_norm": 100])
        #expect(s.eta == 0.5 && s.etaL == 0.01 && s.beta1 == 0 && s.tau == 1e-9)
        #expect(s.clipNorm == 2 && s.noiseMultiplier == 1.1 && s.dpSeed == 12345 && s.usesDifferentialPrivacy)
        #expect(s.maxUpdateNorm == 100)
        let k = try parse("multikrum", ["num_malicious_clients": 2, "num_clients_to_keep": 3])
        #expect(k.numMaliciousClients == 2 && k.numClientsToKeep == 3)
        #expect(try parse("fedprox", ["proximal_mu": 0.01]).proximalMu == 0.01)
        // FEDn's fedopt kwargs, exactly as a FEDn user passes them.
        let fedn = try parse("fedopt", ["serveropt": "yogi", "learning_rate": 1e-2, "beta1": 0.8, "beta2": 0.95, "tau": 1e-3])
        #expect((fedn.serverOpt, fedn.eta, fedn.beta1, fedn.beta2, fedn.tau) == (.yogi, 1e-2, 0.8, 0.95, 1e-3))
        #expect(try parse("fedadam", ["bias_correction": "none"]).biasCorrection == FedAdam.BiasCorrection.none)
        // Flower 1.42's spellings.
        let flower = try parse("multikrum", ["num_malicious_nodes": 1, "num_nodes_to_select": 2])
        #expect(flower.numMaliciousClients == 1 && flower.numClientsToKeep == 2)
        #expect(try parse("fedavgm", ["server_momentum": 0.5]).momentum == 0.5)
    }

    @Test func stringKwargsAreCheckedLikeNumbers() throws {
        #expect(field("fedopt", ["serveropt": "sgd"]) == "aggregator_kwargs.serveropt")
        #expect(field("fedopt", ["serveropt": 1]) == "aggregator_kwargs.serveropt")
        #expect(field("fedadam", ["bias_correction": "kingma"]) == "aggregator_kwargs.bias_correction")
        #expect(field("fedadam", ["eta": "fast"]) == "aggregator_kwargs.eta")
        #expect(field("fedadam", ["eta": .bool(true)]) == "aggregator_kwargs.eta")
        #expect(field("fedyogi", ["bias_correction": "adam"]) == "aggregator_kwargs.bias_correction")
        #expect(field("fedopt", ["beta_1": 0.9]) == "aggregator_kwargs.beta_1")
        #expect(field("multikrum", ["num_nodes_to_select": 2, "num_clients_to_keep": 2]) == "aggregator_kwargs.num_nodes_to_select")
        do {
            _ = try parse("fedopt", ["serveropt": "sgd"])
            Issue.record("serveropt 'sgd' was accepted")
        } catch {
            #expect(error.description == "aggregator_kwargs.serveropt must be one of 'adam', 'yogi', 'adagrad', got 'sgd'")
        }
    }

    @Test func errorsNameTheField() throws {
        #expect(field("fedsgd", nil) == "aggregator")
        #expect(field("fedadam", ["beta_1": 1]) == "aggregator_kwargs.beta_1")
        #expect(field("fedadam", ["beta_2": -0.1]) == "aggregator_kwargs.beta_2")
        #expect(field("fedadam", ["eta": .number(.nan)]) == "aggregator_kwargs.eta")
        #expect(field("fedadam", ["tau": 0]) == "aggregator_kwargs.tau")
        #expect(field("fedadam", ["learning_rate": 0.1]) == "aggregator_kwargs.learning_rate")
        #expect(field("fedavg", ["beta_1": 0.9]) == "aggregator_kwargs.beta_1")
        #expect(field("fedavgm", ["momentum": 1]) == "aggregator_kwargs.momentum")
        #expect(field("fedtrimmedavg", ["beta": 0.5]) == "aggregator_kwargs.beta")
        #expect(field("krum", ["num_malicious_clients": 1.5]) == "aggregator_kwargs.num_malicious_clients")
        #expect(field("krum", ["num_clients_to_keep": 2]) == "aggregator_kwargs.num_clients_to_keep")
        #expect(field("multikrum", ["num_clients_to_keep": 0]) == "aggregator_kwargs.num_clients_to_keep")
        #expect(field("fedprox", nil) == "aggregator_kwargs.proximal_mu")
        #expect(field("fedavg", ["clip_norm": 1]) == "aggregator_kwargs.noise_multiplier")
        #expect(field("fedavg", ["noise_multiplier": 1]) == "aggregator_kwargs.clip_norm")
        #expect(field("fedmedian", ["clip_norm": 1, "noise_multiplier": 1]) == "aggregator_kwargs.clip_norm")
        #expect(field("fedavg", ["clip_norm": 1, "noise_multiplier": 1, "dp_seed": -1]) == "aggregator_kwargs.dp_seed")
        #expect(field("fedavg", ["max_update_norm": 0]) == "aggregator_kwargs.max_update_norm")
        do {
            _ = try parse("fedadam", ["beta_1": 1])
        } catch {
            #expect(error.description == "aggregator_kwargs.beta_1 must be in [0,1), got 1.0")
        }
    }

    @Test func kindProperties() {
        let decomposable = AggregatorKind.allCases.filter(\.isDecomposable).map(\.rawValue)
        #expect(decomposable == ["fedavg", "fedprox", "fedadam", "fedyogi", "fedadagrad", "fedavgm", "fedopt"])
        let optimizers = AggregatorKind.allCases.filter(\.usesServerOptimizer).map(\.rawValue)
        #expect(optimizers == ["fedadam", "fedyogi", "fedadagrad", "fedavgm", "fedopt"])
        for kind in AggregatorKind.allCases {
            #expect((AnyServerOptimizer(settings: AggregatorSettings(kind: kind)) != nil) == kind.usesServerOptimizer)
        }
    }
}
