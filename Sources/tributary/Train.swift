import ArgumentParser
import Foundation

/// Creates a session, starts it and follows it round by round, printing each round's
/// global validation accuracy; exits non-zero if the session does not finish.
struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a training session and print each round's global accuracy.")
    @OptionGroup var options: ControllerOptions
    @OptionGroup var session: SessionOptions
    @Flag(help: "One JSON object per finished round.") var json = false

    func run() async throws {
        let client = try options.client
        let created = try await client.post("/api/v1/sessions/", json: session.body()) as? [String: Any] ?? [:]
        guard let id = created["session_id"] as? String else { throw ValidationError("unexpected reply: \(created)") }
        _ = try await client.post("/api/v1/sessions/start", json: ["session_id": id])
        if !json { print("session \(created["name"] ?? id) started: \(session.rounds) rounds") }
        let status = try await SessionFollower(client: client, sessionId: id, json: json).follow()
        if !json { print("session \(status.lowercased())") }
        if status != "Finished" { throw ExitCode.failure }
    }
}
