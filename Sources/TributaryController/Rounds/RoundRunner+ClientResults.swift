import Foundation
import GRDB
import TributaryModel
import TributaryStore
import TributaryWire

/// What clients reported, one row per client: training metrics (`/api/v1/metrics`),
/// validations (`/api/v1/validations`) and predictions (`/api/v1/predictions`).
extension RoundRunner {
    /// One metric row per client and key: the client's training metrics for this round,
    /// against the model it started from.
    func recordTrainingMetrics(_ outcome: JobBoard.Outcome, round: RoundRecord) {
        let rows = outcome.result.clientResults.flatMap { result in
            result.metrics.sorted { $0.key < $1.key }.map { key, value in
                MetricRecord(key: key, value: value, step: round.roundNumber, modelId: round.modelIn, roundId: round.roundId,
                             sessionId: round.sessionId, sender: .client(result.clientId))
            }
        }
        insert(rows, what: "training metrics")
    }

    /// What each selected client did in the training job (`participation` rows, from which
    /// participant scores are computed): accepted with its example count and metrics,
    /// rejected with the reason, or missed (failed, left, or excluded as a straggler).
    func recordParticipation(_ outcome: JobBoard.Outcome, round: RoundRecord) {
        var rows: [String: ParticipationRecord] = [:]
        func row(_ client: String, _ result: ParticipationRecord.Outcome, examples: Double = 0, metrics: [String: Double] = [:], reason: String? = nil) {
            rows[client] = ParticipationRecord(sessionId: round.sessionId, roundNumber: round.roundNumber, clientId: client, outcome: result,
                                               numExamples: examples, metrics: metrics, reason: reason)
        }
        for report in outcome.reports { for client in report.excluded { row(client, .missed, reason: "not delivered before the round closed") } }
        for (_, issue) in outcome.issues {
            row(issue.clientId, issue.type == ClientIssue.updateRejected ? .rejected : .missed, reason: issue.reason)
        }
        for result in outcome.result.clientResults { row(result.clientId, .accepted, examples: result.numExamples, metrics: result.metrics) }
        insert(rows.values.sorted { $0.clientId < $1.clientId }, what: "participation")
    }

    /// A cancelled round: what each client did, and the HTTP members it had selected that never
    /// answered (their next heartbeat tells them the round is off).
    func recordCancelled(_ outcome: JobBoard.Outcome, round: RoundRecord, httpMembers: Set<String>) {
        recordParticipation(outcome, round: round)
        let answered = Set(outcome.result.clientResults.map(\.clientId)).union(outcome.issues.map(\.issue.clientId))
        insert(httpMembers.subtracting(answered).sorted().map {
            ParticipationRecord(sessionId: round.sessionId, roundNumber: round.roundNumber, clientId: $0, outcome: .missed, reason: "the round was cancelled")
        }, what: "participation")
    }

    /// One validation per client that evaluated the round's new model.
    func recordValidations(_ outcome: JobBoard.Outcome, round: RoundRecord, modelId: String, jobId: String) {
        let combinerOf = Self.combinerByClient(outcome.reports)
        let rows = outcome.result.clientResults.map { result in
            ValidationRecord(modelId: modelId, sessionId: round.sessionId, roundNumber: round.roundNumber, correlationId: jobId,
                             numExamples: Int(result.numExamples), metrics: result.metrics, sender: .client(result.clientId),
                             receiver: combinerOf[result.clientId].map(NodeRef.combiner) ?? .controller)
        }
        insert(rows, what: "validations")
    }

    /// Runs a prediction job over every online combiner; stores one prediction per client
    /// that reported. Returns how many were stored.
    func predict(predictionId: String, modelId: String, timeout: Double) async -> Int {
        let participants = await registry.participants().map(\.name)
        guard !participants.isEmpty else { return 0 }
        let order = JobOrder(jobId: "predict-\(predictionId)-\(UUID().uuidString.prefix(8).lowercased())", sessionId: "", round: 0, kind: .predict,
                             modelId: modelId, chunkSize: 8 << 20, config: TrainingConfig(), timeoutSeconds: timeout, minClients: 1)
        do {
            guard let outcome = try await runJob(order, spec: nil, participants: participants, timeout: timeout) else { return 0 }
            let combinerOf = Self.combinerByClient(outcome.reports)
            let rows = outcome.result.clientResults.map { result in
                PredictionRecord(predictionId: predictionId, modelId: modelId, numExamples: Int(result.numExamples), output: result.metrics,
                                 sender: .client(result.clientId), receiver: combinerOf[result.clientId].map(NodeRef.combiner) ?? .controller)
            }
            insert(rows, what: "predictions")
            return rows.count
        } catch {
            logger.error("prediction failed", metadata: ["prediction": "\(predictionId)", "error": "\(error)"])
            return 0
        }
    }

    private static func combinerByClient(_ reports: [CombinerReport]) -> [String: String] {
        var map: [String: String] = [:]
        for report in reports { for client in report.clients { map[client] = report.name } }
        return map
    }

    private func insert<R: PersistableRecord & Sendable>(_ rows: [R], what: String) {
        guard !rows.isEmpty else { return }
        do {
            try store.database.write { db in for row in rows { try row.insert(db) } }
        } catch {
            logger.error("could not record \(what)", metadata: ["error": "\(error)"])
        }
    }
}
