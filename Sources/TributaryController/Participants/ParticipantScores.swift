import Foundation
import TributaryStore

/// Scores computed from what each client actually did (its `participation` rows), whatever
/// way it came in:
///
///     trust        = (accepted + 1) / (accepted + rejected + 1)      a new client is trusted (1);
///                                                                   each refused update lowers it
///     reliability  = (accepted + rejected) / assigned                answered ÷ selected rounds
///                                                                   (1 before any assignment)
///     contribution = examples / Σ examples of all clients            its share of the accepted
///                                                                   example weight
///
/// where `assigned` counts rounds the client was selected for (accepted + rejected + missed).
struct ParticipantScores: Sendable {
    struct Score: Sendable, Equatable {
        var accepted = 0, rejected = 0, missed = 0
        var examples = 0.0
        var trust = 1.0, reliability = 1.0, contribution = 0.0
        var assigned: Int { accepted + rejected + missed }
        /// Rounds the client was selected for and did not deliver an accepted update.
        var failures: Int { rejected + missed }
    }

    let scores: [String: Score]

    /// The scores over `rows` (one session's, or the whole history).
    init(_ rows: [ParticipationRecord]) {
        var s: [String: Score] = [:]
        for row in rows {
            switch row.outcome {
            case .accepted: s[row.clientId, default: Score()].accepted += 1; s[row.clientId, default: Score()].examples += row.numExamples
            case .rejected: s[row.clientId, default: Score()].rejected += 1
            case .missed: s[row.clientId, default: Score()].missed += 1
            }
        }
        let total = s.values.reduce(0) { $0 + $1.examples }
        for (id, var score) in s {
            score.trust = Double(score.accepted + 1) / Double(score.accepted + score.rejected + 1)
            score.reliability = score.assigned == 0 ? 1 : Double(score.accepted + score.rejected) / Double(score.assigned)
            score.contribution = total > 0 ? score.examples / total : 0
            s[id] = score
        }
        scores = s
    }

    init(store: Store, sessionId: String? = nil) throws {
        let rows = try store.database.read { db in
            if let sessionId { return try ParticipationRecord.filter(sql: "session_id = ?", arguments: [sessionId]).fetchAll(db) }
            return try ParticipationRecord.fetchAll(db)
        }
        self.init(rows)
    }

    subscript(client: String) -> Score { scores[client] ?? Score() }

    /// Which of `candidates` a policy lets take part, and why the others may not.
    func apply(_ policy: ParticipantPolicy?, to candidates: [String]) -> (selected: [String], excluded: [String: String]) {
        var selected: [String] = [], excluded: [String: String] = [:]
        for id in candidates.sorted() {
            let score = self[id]
            if let threshold = policy?.trustThreshold, score.trust < threshold {
                excluded[id] = String(format: "Trust score below threshold (%.2f < %.2f)", score.trust, threshold)
            } else if let limit = policy?.maxClientFailures, score.failures > limit {
                excluded[id] = "Failed \(score.failures) rounds, more than max_client_failures (\(limit))"
            } else {
                selected.append(id)
            }
        }
        return (selected, excluded)
    }
}
