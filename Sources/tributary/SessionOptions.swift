import ArgumentParser
import Foundation

/// What a new session should do; shared by `session create` and `train`.
struct SessionOptions: ParsableArguments {
    @Option(help: "Number of rounds.") var rounds: Int = 10
    @Option(help: "Round timeout in seconds.") var roundTimeout: Double = 60
    @Option(help: "Local epochs per round.") var localEpochs: Int = 2
    @Option(help: "Local learning rate.") var learningRate: Double = 0.1
    @Option(help: "Local minibatch size.") var batchSize: Int = 32
    @Option(help: "Fewest client updates a round needs.") var clientsRequired: Int = 1
    @Option(help: "Aggregation strategy (fedavg, fedadam, fedmedian, ...).") var aggregator: String = "fedavg"
    @Option(help: "Aggregator settings as JSON, e.g. '{\"eta\": 0.01}'.") var aggregatorKwargs: String?
    @Flag(inversion: .prefixedNo, help: "Validate each new global model on the clients' test data.") var validate = true
    @Option(help: "Seed model id (default: the latest model).") var seedModel: String?
    @Option(help: "Session name.") var name: String?

    func body() throws -> [String: Any] {
        var config: [String: Any] = [
            "rounds": rounds, "round_timeout": roundTimeout, "clients_required": clientsRequired, "validate": validate,
            "aggregator": aggregator,
            "training": ["local_epochs": localEpochs, "learning_rate": learningRate, "batch_size": batchSize],
        ]
        if let aggregatorKwargs {
            guard let kwargs = try? JSONSerialization.jsonObject(with: Data(aggregatorKwargs.utf8)) as? [String: Any] else {
                throw ValidationError("--aggregator-kwargs must be a JSON object")
            }
            config["aggregator_kwargs"] = kwargs
        }
        var body: [String: Any] = ["session_config": config]
        if let seedModel { body["seed_model_id"] = seedModel }
        if let name { body["name"] = name }
        return body
    }
}
