import ArgumentParser
import Foundation

/// Creates a session, starts it and follows it round by round, printing each round's
/// global validation accuracy; exits non-zero if the session does not finish.
struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a training session and print each round's global accuracy.")
    @OptionGroup var options: ControllerOptions
    @Option(help: "Number of rounds.") var rounds: Int = 10
    @Option(help: "Round timeout in seconds.") var roundTimeout: Double = 60
    @Option(help: "Local epochs per round.") var localEpochs: Int = 2
    @Option(help: "Local learning rate.") var learningRate: Double = 0.1
    @Option(help: "Local minibatch size.") var batchSize: Int = 32
    @Option(help: "Fewest client updates a round needs.") var clientsRequired: Int = 1
    @Option(help: "Seed model id (default: the latest model).") var seedModel: String?
    @Option(help: "Session name.") var name: String?

    func run() async throws {
        let client = try options.client
        var body: [String: Any] = [
            "session_config": [
                "rounds": rounds, "round_timeout": roundTimeout, "clients_required": clientsRequired, "validate": true,
                "training": ["local_epochs": localEpochs, "learning_rate": learningRate, "batch_size": batchSize],
            ] as [String: Any],
        ]
        if let seedModel { body["seed_model_id"] = seedModel }
        if let name { body["name"] = name }
        let session = try await client.post("/api/v1/sessions/", json: body) as? [String: Any] ?? [:]
        guard let id = session["session_id"] as? String else { throw ValidationError("unexpected reply: \(session)") }
        _ = try await client.post("/api/v1/sessions/start", json: ["session_id": id])
        print("session \(session["name"] ?? id) started: \(rounds) rounds")

        var printed = Set<Int>()
        while true {
            let list = try await client.get("/api/v1/rounds/?session_id=\(id)", headers: ["X-Sort-Key": "round_number", "X-Sort-Order": "asc"]) as? [String: Any]
            for round in list?["result"] as? [[String: Any]] ?? [] {
                guard let number = round["round_number"] as? Int, !printed.contains(number) else { continue }
                let status = round["status"] as? String ?? ""
                guard status == "Finished" || status == "Failed" else { continue }
                printed.insert(number)
                print(Self.describe(round))
            }
            let current = try await client.get("/api/v1/sessions/\(id)") as? [String: Any] ?? [:]
            let status = current["status"] as? String ?? ""
            if status != "Started" && status != "Created" && printed.count >= (list?["count"] as? Int ?? 0) {
                print("session \(status.lowercased())")
                if status != "Finished" { throw ExitCode.failure }
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    static func describe(_ round: [String: Any]) -> String {
        let number = round["round_number"] as? Int ?? 0
        let data = round["round_data"] as? [String: Any] ?? [:]
        let validation = data["validation"] as? [String: Any] ?? [:]
        let train = data["train_metrics"] as? [String: Any] ?? [:]
        let clients = (round["combiners"] as? [[String: Any]] ?? []).reduce(0) { $0 + (($1["clients"] as? [Any])?.count ?? 0) }
        guard round["status"] as? String == "Finished" else {
            return String(format: "round %2d  FAILED: %@", number, (round["error"] as? String ?? "unknown reason") as NSString)
        }
        let accuracy = (validation["accuracy"] as? Double).map { String(format: "%.4f", $0) } ?? "n/a"
        let loss = (validation["loss"] as? Double).map { String(format: "%.4f", $0) } ?? "n/a"
        let trainLoss = (train["train_loss"] as? Double).map { String(format: "%.4f", $0) } ?? "n/a"
        let seconds = (data["time_training"] as? Double).map { String(format: "%.2fs", $0) } ?? "?"
        return "round \(String(format: "%2d", number))  accuracy \(accuracy)  test_loss \(loss)  train_loss \(trainLoss)  clients \(clients)  train_time \(seconds)"
    }
}
