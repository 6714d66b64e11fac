import Foundation

/// Follows a session round by round over the REST API until it ends: prints each round as it
/// finishes (human lines or one JSON object per line) and, on a terminal, a live progress
/// line for the round in flight.
struct SessionFollower {
    let client: RESTClient
    let sessionId: String
    let json: Bool

    /// Returns the session's final status.
    func follow() async throws -> String {
        var printed = Set<Int>()
        let live = !json && isatty(STDOUT_FILENO) == 1
        while true {
            let session = try await client.get("/api/v1/sessions/\(sessionId)") as? [String: Any] ?? [:]
            let total = (session["session_config"] as? [String: Any])?["rounds"] as? Int ?? 0
            let list = try await client.get("/api/v1/rounds/?session_id=\(sessionId)", headers: ["X-Sort-Key": "round_number", "X-Sort-Order": "asc"]) as? [String: Any]
            let rounds = list?["result"] as? [[String: Any]] ?? []
            for round in rounds {
                guard let number = round["round_number"] as? Int, !printed.contains(number) else { continue }
                let status = round["status"] as? String ?? ""
                guard status == "Finished" || status == "Failed" else { continue }
                printed.insert(number)
                if live { Self.rewrite("") }
                print(json ? Output.json(round).replacingOccurrences(of: "\n", with: "") : Self.describe(round))
            }
            let status = session["status"] as? String ?? ""
            if status != "Started" && status != "Created" && printed.count >= rounds.count {
                return status
            }
            if live, let current = rounds.last(where: { !printed.contains($0["round_number"] as? Int ?? 0) }) {
                Self.rewrite(Self.progress(done: printed.count, total: total, current: current))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Replaces the terminal's current line (unbuffered, so it shows at once).
    static func rewrite(_ text: String) {
        FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + text).utf8))
    }

    /// `[######----]  6/10 rounds  round 7 Running`
    static func progress(done: Int, total: Int, current: [String: Any]) -> String {
        let width = 20
        let filled = total > 0 ? min(width, done * width / total) : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return "[\(bar)] \(done)/\(total) rounds  round \(current["round_number"] ?? "?") \(current["status"] ?? "")"
    }

    static func describe(_ round: [String: Any]) -> String {
        let number = round["round_number"] as? Int ?? 0
        let data = round["round_data"] as? [String: Any] ?? [:]
        let validation = data["validation"] as? [String: Any] ?? [:]
        let train = data["train_metrics"] as? [String: Any] ?? [:]
        let reports = round["combiners"] as? [[String: Any]] ?? []
        let clients = reports.reduce(0) { $0 + (($1["clients"] as? [Any])?.count ?? 0) }
        let expected = clients + reports.reduce(0) { $0 + (($1["excluded"] as? [Any])?.count ?? 0) }
        guard round["status"] as? String == "Finished" else {
            return String(format: "round %2d  FAILED: %@", number, (round["error"] as? String ?? "unknown reason") as NSString)
        }
        func metric(_ d: [String: Any], _ key: String) -> String { (d[key] as? Double).map { String(format: "%.4f", $0) } ?? "n/a" }
        let seconds = (data["time_training"] as? Double).map { String(format: "%.2fs", $0) } ?? "?"
        return "round \(String(format: "%2d", number))  accuracy \(metric(validation, "accuracy"))  test_loss \(metric(validation, "loss"))"
            + "  train_loss \(metric(train, "train_loss"))  clients \(clients)/\(expected)  train_time \(seconds)"
    }
}
