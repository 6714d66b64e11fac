import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TributaryClient
import TributaryModel
import TributaryWire

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogSetup.Format: ExpressibleByArgument {}

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
    @Option(help: "Bearer token for a controller that requires one (default: $TRIBUTARY_TOKEN).")
    var token: String?
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
    @Option(help: "Built-in trainer: softmax (digits) or noop (returns the model + 1e-3 × (client index + 1); for benchmarks).")
    var trainer: String = "softmax"
    @Option(help: "noop trainer: the example count each client reports.")
    var examples: Int = 100
    @Option(help: "Swarm mode: host this many logical clients in this process, with ids <client-id>-<i>.")
    var count: Int = 1
    @Option(help: "Wait this many seconds before each training step (a slow device, for straggler and chaos tests).")
    var trainDelay: Double = 0
    @Option(help: "Log format: text or json (one object per line).")
    var logFormat: LogSetup.Format = .text
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info
    @Option(help: "CA certificate (PEM) for mutual TLS with combiners on tls+tcp://.")
    var tlsCa: String?
    @Option(help: "This client's certificate (PEM; `tributary pki issue --role client --name ID`); its name must be --client-id.")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard examples >= 1 else { throw ValidationError("--examples must be at least 1") }
        guard trainer == "softmax" || trainer == "noop" else { throw ValidationError("--trainer must be softmax or noop") }
        guard trainDelay >= 0, trainDelay.isFinite else { throw ValidationError("--train-delay must be a non-negative number of seconds") }
    }

    func run() async throws {
        let logger = LogSetup.bootstrap(label: "tributary.client.\(clientId)", level: logLevel, format: logFormat)
        ShutdownWatchdog.install()
        guard let url = URL(string: controller), url.scheme != nil else { throw ValidationError("--controller must be an http URL") }
        // Swarm mode: N independent clients (own ids, sockets, heartbeats and updates) sharing
        // one process; only their PUB subscriptions are shared (a notice merely wakes them).
        let tls = try tlsCa.map { try TLSIdentity.load(ca: $0, certificate: tlsCert, key: tlsKey) }
        if tls == nil, tlsCert != nil { throw ValidationError("--tls-cert needs --tls-ca") }
        let hub = count > 1 ? NoticeHub() : nil
        var services: [any Service] = []
        for index in 0..<count {
            let id = count > 1 ? "\(clientId)-\(index)" : clientId
            var config = ClientConfiguration(controllerURL: url, clientId: id, name: count > 1 ? "\(name ?? clientId)-\(index)" : name ?? clientId)
            config.preferredCombiner = combiner
            config.tls = tls
            config.token = token ?? ProcessInfo.processInfo.environment["TRIBUTARY_TOKEN"]
            var log = logger
            if count > 1 { log[metadataKey: "client"] = "\(id)" }
            var trainer = try makeTrainer(index: index)
            if trainDelay > 0 { trainer = DelayedTrainer(trainer, delay: .milliseconds(Int64(trainDelay * 1000))) }
            services.append(ClientService(configuration: config, trainer: trainer, logger: log, notices: hub))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The trainer of client `index`: in swarm mode the built-in softmax trainer takes share
    /// `index`/`count` of the data, the noop trainer a delta per index.
    private func makeTrainer(index: Int) throws -> any Trainer {
        if let trainCommand {
            return ExternalCommandTrainer(
                trainCommand: trainCommand, validateCommand: validateCommand,
                workDirectory: FileManager.default.temporaryDirectory, timeout: .milliseconds(Int64(commandTimeout * 1000)))
        }
        if trainer == "noop" {
            let base = count > 1 ? index : (try? PartitionSpec.parse(partition).index) ?? 0
            return NoopTrainer(clientIndex: base, numExamples: examples)
        }
        let share = count > 1 ? "\(index)/\(count)" : partition
        return try SoftmaxTrainer.digits(
            partition: PartitionSpec.parse(share), scheme: PartitionScheme.parse(scheme), seed: dataSeed,
            csv: data.map { URL(fileURLWithPath: $0) })
    }
}

struct SeedModel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-model", abstract: "Write the built-in trainer's initial model (.npz or native .trbm by extension).")
    @Option(help: "Output file.") var out: String
    @Option(help: "Seed of the random initial weights.") var seed: UInt64 = 0
    @Option(help: "Instead: a benchmark model of this many float32 parameters (one tensor `weights`), e.g. 1e6.")
    var parameters: Double?

    func run() throws {
        let model: Model
        if let parameters {
            guard parameters >= 1, parameters <= 1e9 else { throw ValidationError("--parameters must be between 1 and 1e9") }
            model = try NoopTrainer.seedModel(parameters: Int(parameters), seed: seed)
        } else {
            model = SoftmaxRegression.initialModel(seed: seed)
        }
        let url = URL(fileURLWithPath: out)
        if url.pathExtension == "npz" { try NPZ.write(model, to: url) } else { try NativeFormat.write(model, to: url) }
        print(url.path)
    }
}
