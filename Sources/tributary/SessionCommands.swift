import ArgumentParser
import Foundation

struct Session: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, start, stop and show sessions.",
        subcommands: [Create.self, Start.self, Stop.self, Show.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a session; prints its id.")
        @OptionGroup var options: ControllerOptions
        @OptionGroup var session: SessionOptions
        @Flag(help: "Print the whole session as JSON.") var json = false

        func run() async throws {
            let created = try await options.client.post("/api/v1/sessions/", json: session.body()) as? [String: Any] ?? [:]
            print(json ? Output.json(created) : Output.cell(created["session_id"]))
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a created session.")
        @OptionGroup var options: ControllerOptions
        @Argument(help: "Session id.") var id: String
        @Option(help: "Override the number of rounds.") var rounds: Int?

        func run() async throws {
            var body: [String: Any] = ["session_id": id]
            if let rounds { body["rounds"] = rounds }
            let reply = try await options.client.post("/api/v1/sessions/start", json: body) as? [String: Any]
            print(Output.cell(reply?["message"]))
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the running session after its current round.")
        @OptionGroup var options: ControllerOptions

        func run() async throws {
            let reply = try await options.client.post("/api/v1/control/stop", json: [:]) as? [String: Any]
            print(Output.cell(reply?["message"]))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a session and its rounds.")
        @OptionGroup var options: ControllerOptions
        @Argument(help: "Session id.") var id: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let client = try options.client
            let session = try await client.get("/api/v1/sessions/\(id)") as? [String: Any] ?? [:]
            let rounds = try await client.get("/api/v1/rounds/?session_id=\(id)", headers: ["X-Sort-Key": "round_number", "X-Sort-Order": "asc"]) as? [String: Any]
            if json {
                print(Output.json(["session": session, "rounds": rounds?["result"] ?? []]))
                return
            }
            let config = session["session_config"] as? [String: Any] ?? [:]
            print("session \(Output.cell(session["name"]))  \(Output.cell(session["status"]))  aggregator \(Output.cell(config["aggregator"]))  rounds \(Output.cell(config["rounds"]))")
            for round in rounds?["result"] as? [[String: Any]] ?? [] { print(SessionFollower.describe(round)) }
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow a session live until it ends (default: the running one).")
    @OptionGroup var options: ControllerOptions
    @Option(help: "Session id.") var session: String?
    @Flag(help: "One JSON object per finished round.") var json = false
    @Option(help: "Seconds to wait for a session to start.") var timeout: Double = 60

    func run() async throws {
        let client = try options.client
        var id = session
        let deadline = Date().addingTimeInterval(timeout)
        while id == nil {
            let running = try await client.get("/api/v1/sessions/?status=Started") as? [String: Any]
            id = (running?["result"] as? [[String: Any]])?.first?["session_id"] as? String
            if id == nil {
                guard Date() < deadline else { throw ValidationError("no session is running") }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        let status = try await SessionFollower(client: client, sessionId: id!, json: json).follow()
        if !json { print("session \(status.lowercased())") }
        if status != "Finished" { throw ExitCode.failure }
    }
}
