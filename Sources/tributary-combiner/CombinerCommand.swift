import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TributaryCombiner
import TributaryWire

extension Logger.Level: @retroactive ExpressibleByArgument {}

@main
struct CombinerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-combiner",
        abstract: "Run a Tributary combiner: serves many clients and partially aggregates their updates.")

    @Option(help: "Unique combiner name; a restarted combiner with the same name takes its old place.")
    var name: String
    @Option(help: "The controller's nng address.")
    var controller: String = "tcp://127.0.0.1:7100"
    @Option(help: "nng REP address clients send requests to.")
    var listen: String = "tcp://127.0.0.1:7200"
    @Option(help: "nng PUB address for task notices to clients.")
    var publish: String = "tcp://127.0.0.1:7201"
    @Option(help: "Host clients should dial when listening on 0.0.0.0.")
    var advertiseHost: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let logger = LogSetup.bootstrap(label: "tributary.combiner", level: logLevel)
        ShutdownWatchdog.install()
        var config = CombinerConfiguration(name: name, controllerAddress: controller)
        config.replyAddress = listen
        config.publishAddress = publish
        config.advertiseHost = advertiseHost
        let service = try CombinerService(configuration: config, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
