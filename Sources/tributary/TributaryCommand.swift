import ArgumentParser
import Foundation

@main
struct TributaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Operate a Tributary network over the controller's REST API.",
        subcommands: [Status.self, Clients.self, Combiners.self, Models.self, Session.self, Watch.self, Train.self, ModelUpload.self, Wait.self, Devices.self, PKICommand.self])
}

/// Options every subcommand shares.
struct ControllerOptions: ParsableArguments {
    @Option(help: "The controller's REST base URL.")
    var controller: String = "http://127.0.0.1:8092"
    @Option(help: "Bearer token for a controller with authentication on (default: $TRIBUTARY_TOKEN).")
    var token: String?
    @Option(help: "PEM of the CA that signed an HTTPS controller's certificate, when it is not in the system's trust store (default: $TRIBUTARY_CA).")
    var ca: String?

    var client: RESTClient {
        get throws {
            guard let url = URL(string: controller) else { throw ValidationError("--controller must be a URL") }
            let caPEM = try (ca ?? ProcessInfo.processInfo.environment["TRIBUTARY_CA"]).flatMap { $0.isEmpty ? nil : $0 }.map { path in
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read the CA file \(path)") }
                return pem
            }
            return RESTClient(baseURL: url, token: token ?? ProcessInfo.processInfo.environment["TRIBUTARY_TOKEN"], caPEM: caPEM)
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
    static let configuration = CommandConfiguration(abstract: "Network summary: combiners and clients by liveness, the running session.")
    @OptionGroup var options: ControllerOptions
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let client = try options.client
        var summary: [String: Any] = [:]
        for resource in ["combiners", "clients"] {
            var counts: [String: Int] = [:]
            for status in ["online", "stale", "offline", "available"] {
                counts[status] = try await client.get("/api/v1/\(resource)/count?status=\(status)") as? Int ?? 0
            }
            summary[resource] = counts
        }
        let running = (try await client.get("/api/v1/sessions/?status=Started") as? [String: Any])?["result"] as? [[String: Any]] ?? []
        if let session = running.first, let id = session["session_id"] as? String {
            let rounds = try await client.get("/api/v1/rounds/count?session_id=\(id)") as? Int ?? 0
            let total = (session["session_config"] as? [String: Any])?["rounds"] as? Int ?? 0
            summary["session"] = ["session_id": id, "name": session["name"] ?? "", "round": rounds, "rounds": total]
        }
        if json {
            print(Output.json(summary))
            return
        }
        for resource in ["combiners", "clients"] {
            let c = summary[resource] as? [String: Int] ?? [:]
            print("\(resource): \(c["online"] ?? 0) online, \(c["stale"] ?? 0) stale, \(c["offline"] ?? 0) offline"
                + (resource == "clients" ? ", \(c["available"] ?? 0) assigned but not yet seen" : ""))
        }
        if let s = summary["session"] as? [String: Any] {
            print("session: \(Output.cell(s["name"])) running, round \(Output.cell(s["round"])) of \(Output.cell(s["rounds"]))")
        } else {
            print("session: none running")
        }
    }
}
