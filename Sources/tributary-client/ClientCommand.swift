import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TributaryClient
import TributaryModel
import TributaryWire

extension Logger.Level: @retroactive ExpressibleByArgument {}

@main
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-client",
        abstract: "Run a Tributary client: trains locally on private data and sends updates.",
        subcommands: [Run.self, SeedModel.self],
        defaultSubcommand: Run.self)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the network and train when asked (the default).",
        discussion: """
            The built-in trainer fits a softmax classifier to the bundled UCI digits data, using the share \
            --partition i/n of it. With --train-command, an external program trains instead: Tributary writes the \
            global model to {in} (.npz, with {in}-metadata JSON), runs the command, and reads {out} (.npz) and \
            {out}-metadata (JSON with num_examples).
            """)

    @Option(help: "The controller's REST base URL.")
    var controller: String = "http://127.0.0.1:8092"
    @Option(help: "This client's id (stable across restarts).")
    var clientId: String = "client-\(UUID().uuidString.prefix(8).lowercased())"
    @Option(help: "Display name (default: the id).")
    var name: String?
    @Option(help: "Preferred combiner name.")
    var combiner: String?
    @Option(help: "Built-in trainer: this client's share of the digits data, as i/n.")
    var partition: String = "0/1"
    @Option(help: "Built-in trainer: iid or dirichlet:ALPHA (non-IID label skew).")
    var scheme: String = "iid"
    @Option(help: "Built-in trainer: seed of the train/test split and the partition.")
    var dataSeed: UInt64 = 42
    @Option(help: "Built-in trainer: a digits CSV to use instead of the bundled one.")
    var data: String?
    @Option(help: "External training command with {in} and {out} placeholders.")
    var trainCommand: String?
    @Option(help: "External validation command with {in} (model) and {out} (JSON metrics) placeholders.")
    var validateCommand: String?
    @Option(help: "Seconds an external command may run.")
    var commandTimeout: Double = 600
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let logger = LogSetup.bootstrap(label: "tributary.client.\(clientId)", level: logLevel)
        guard let url = URL(string: controller), url.scheme != nil else { throw ValidationError("--controller must be an http URL") }
        let trainer: any Trainer
        if let trainCommand {
            trainer = ExternalCommandTrainer(
                trainCommand: trainCommand, validateCommand: validateCommand,
                workDirectory: FileManager.default.temporaryDirectory, timeout: .milliseconds(Int64(commandTimeout * 1000)))
        } else {
            trainer = try SoftmaxTrainer.digits(
                partition: PartitionSpec.parse(partition), scheme: PartitionScheme.parse(scheme), seed: dataSeed,
                csv: data.map { URL(fileURLWithPath: $0) })
        }
        var config = ClientConfiguration(controllerURL: url, clientId: clientId, name: name ?? clientId)
        config.preferredCombiner = combiner
        let service = ClientService(configuration: config, trainer: trainer, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct SeedModel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-model", abstract: "Write the built-in trainer's initial model (.npz or native .trbm by extension).")
    @Option(help: "Output file.") var out: String
    @Option(help: "Seed of the random initial weights.") var seed: UInt64 = 0

    func run() throws {
        let model = SoftmaxRegression.initialModel(seed: seed)
        let url = URL(fileURLWithPath: out)
        if url.pathExtension == "npz" { try NPZ.write(model, to: url) } else { try NativeFormat.write(model, to: url) }
        print(url.path)
    }
}
