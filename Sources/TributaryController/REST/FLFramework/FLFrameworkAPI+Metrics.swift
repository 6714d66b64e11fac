import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// `GET /metrics/training` and `GET /metrics/clients/{id}`, read from the rounds' records and
/// the per-client `participation` rows.
///
/// `convergence_rate` is the mean gain in global accuracy per round, (a_last − a_first) / (n − 1)
/// over the rounds shown (0 with fewer than two).
extension FLFrameworkAPI {
    func registerMetrics<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("metrics/training") { request, _ in
            let from = try request.intQuery("from_round", min: 1)
            let to = try request.intQuery("to_round", min: 1)
            let clientFilter = request.query("client_id")
            guard let session = try await experiment(request.query("experiment_id")) else {
                return try APIResponse.object(["experiment_id": NSNull(), "rounds": [Any](), "summary": ["total_rounds": 0]])
            }
            let rounds = try finishedRounds(of: session.sessionId).filter { r in
                (from.map { r.roundNumber >= $0 } ?? true) && (to.map { r.roundNumber <= $0 } ?? true)
            }
            let rows = try await store.database.read { db in
                try ParticipationRecord.filter(sql: "session_id = ? AND outcome = 'accepted'", arguments: [session.sessionId]).fetchAll(db)
            }
            var byRound: [Int: [ParticipationRecord]] = [:]
            for row in rows where clientFilter == nil || row.clientId == clientFilter { byRound[row.roundNumber, default: []].append(row) }
            var out: [[String: Any]] = []
            var accuracies: [Double] = [], durations: [Double] = []
            for round in rounds {
                let accuracy = round.roundData.validation["accuracy"]
                let duration = round.finishedAt.map { $0.timeIntervalSince(round.committedAt) }
                if let accuracy { accuracies.append(accuracy) }
                if let duration { durations.append(duration) }
                var clients: [String: Any] = [:]
                for row in byRound[round.roundNumber] ?? [] { clients[row.clientId] = Self.clientMetrics(row) }
                let data = round.roundData
                let loss: Double? = data.validation["loss"] ?? data.trainMetrics["train_loss"]
                var entry: [String: Any] = ["round": round.roundNumber, "participating_clients": Self.contributors(round).count]
                entry["global_accuracy"] = accuracy as Any? ?? NSNull()
                entry["global_loss"] = loss as Any? ?? NSNull()
                entry["round_duration"] = duration as Any? ?? NSNull()
                entry["aggregation_time"] = data.timeReduce as Any? ?? NSNull()
                entry["training_time"] = data.timeTraining as Any? ?? NSNull()
                entry["num_examples"] = data.numExamples
                entry["model_id"] = round.modelOut as Any? ?? NSNull()
                entry["client_metrics"] = clients
                out.append(entry)
            }
            let rate = accuracies.count >= 2 ? (accuracies.last! - accuracies.first!) / Double(accuracies.count - 1) : 0
            var summary: [String: Any] = ["total_rounds": out.count, "convergence_rate": rate]
            summary["best_accuracy"] = accuracies.max() as Any? ?? NSNull()
            summary["avg_round_duration"] = durations.isEmpty ? NSNull() : durations.reduce(0, +) / Double(durations.count) as Any
            return try APIResponse.object(["experiment_id": session.sessionId, "rounds": out, "summary": summary])
        }
        api.get("metrics/clients/:id") { _, context in
            let id = try context.parameters.require("id")
            let rows = try await store.database.read { db in
                try ParticipationRecord.filter(sql: "client_id = ?", arguments: [id]).order(sql: "committed_at").fetchAll(db)
            }
            let known = try participants.find(id) != nil || store.fetch(ClientRecord.self, id: id) != nil
            guard known || !rows.isEmpty else { throw FLError.notRegistered(id) }
            let scores = try ParticipantScores(store: store)
            let history: [[String: Any]] = rows.map { row in
                var entry = Self.clientMetrics(row)
                entry["round"] = row.roundNumber
                entry["experiment_id"] = row.sessionId
                entry["outcome"] = row.outcome.rawValue
                entry["communication_time"] = NSNull()
                if let reason = row.reason { entry["reason"] = reason }
                return entry
            }
            let accepted = rows.filter { $0.outcome == .accepted }
            let accuracy = accepted.compactMap { Self.clientMetrics($0)["local_accuracy"] as? Double }
            let times = accepted.compactMap { $0.metrics["training_time"] }
            let score = scores[id]
            var statistics: [String: Any] = [
                "total_rounds_participated": score.accepted, "rounds_assigned": score.assigned, "updates_rejected": score.rejected,
                "rounds_missed": score.missed, "examples_contributed": score.examples,
                "reliability_score": score.reliability, "contribution_score": score.contribution, "trust_score": score.trust,
            ]
            statistics["avg_accuracy"] = accuracy.isEmpty ? NSNull() : accuracy.reduce(0, +) / Double(accuracy.count) as Any
            statistics["avg_training_time"] = times.isEmpty ? NSNull() : times.reduce(0, +) / Double(times.count) as Any
            return try APIResponse.object(["client_id": id, "performance_history": history, "statistics": statistics])
        }
    }
}
