import ArgumentParser
import Foundation

@main
struct TributaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Operate a Tributary network over the controller's REST API.",
        subcommands: [ModelUpload.self, Train.self, Status.self, Wait.self])
}

/// Options every subcommand shares.
struct ControllerOptions: ParsableArguments {
    @Option(help: "The controller's REST base URL.")
    var controller: String = "http://127.0.0.1:8092"

    var client: RESTClient {
        get throws {
            guard let url = URL(string: controller) else { throw ValidationError("--controller must be a URL") }
            return RESTClient(baseURL: url)
        }
    }
}

struct ModelUpload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "upload-model", abstract: "Store a seed model (.npz or native .trbm).")
    @OptionGroup var options: ControllerOptions
    @Argument(help: "The model file.") var file: String
    @Option(help: "A name for the model.") var name: String?

    func run() async throws {
        let reply = try await options.client.upload("/api/v1/models/", file: URL(fileURLWithPath: file), name: name)
        guard let id = (reply as? [String: Any])?["model_id"] as? String else { throw ValidationError("unexpected reply: \(reply)") }
        print(id)
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show combiners and clients with their liveness.")
    @OptionGroup var options: ControllerOptions

    func run() async throws {
        let client = try options.client
        for (title, path, key) in [("combiners", "/api/v1/combiners/", "name"), ("clients", "/api/v1/clients/", "client_id")] {
            let list = try await client.get(path) as? [String: Any] ?? [:]
            let rows = list["result"] as? [[String: Any]] ?? []
            print("\(title): \(list["count"] ?? 0)")
            for row in rows {
                print("  \(row[key] ?? "?")  \(row["status"] ?? "?")\(row["combiner"].map { "  at \($0)" } ?? "")")
            }
        }
    }
}
