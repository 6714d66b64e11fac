import ArgumentParser
import Foundation

/// Waits until the network has the given numbers of online combiners and clients, and at
/// least one stored model — what a script needs before it starts a session.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wait until combiners and clients are online.")
    @OptionGroup var options: ControllerOptions
    @Option(help: "Online combiners to wait for.") var combiners: Int = 1
    @Option(help: "Online clients to wait for.") var clients: Int = 0
    @Option(help: "Stored models to wait for.") var models: Int = 0
    @Option(help: "Give up after this many seconds.") var timeout: Double = 120

    func run() async throws {
        let client = try options.client
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            do {
                let c = try await client.get("/api/v1/combiners/count?status=online") as? Int ?? 0
                let k = try await client.get("/api/v1/clients/count?status=online") as? Int ?? 0
                let m = try await client.get("/api/v1/models/count") as? Int ?? 0
                last = "\(c) combiners, \(k) clients online, \(m) models"
                if c >= combiners && k >= clients && m >= models {
                    print(last)
                    return
                }
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        print("timed out waiting: \(last)")
        throw ExitCode.failure
    }
}
