import Foundation
import TributaryStore
import TributaryWire

extension SessionManager {
    /// Closes the open job's barrier now (`/control/skip`): combiners stop waiting for their
    /// clients and report what has arrived, so the round goes on with the updates in hand.
    /// Returns the skipped job, or nil when no job is open.
    func skipBarrier() async -> JobOrder? {
        guard let order = await runner.jobs.skip() else { return nil }
        // Combiners learn it from their next heartbeat reply; the notice makes that now.
        if let notice = try? Frame.encode(.roundNotice, JobNotice(jobId: order.jobId)) { try? runner.notices.publish(notice) }
        note("BARRIER_SKIPPED", "operator skipped the barrier of job \(order.jobId)", session: order.sessionId.isEmpty ? nil : order.sessionId,
             round: order.round, level: "WARNING", correlationId: order.jobId)
        return order
    }

    /// Cancels the running session's current round: its wait ends now, whatever was received
    /// is discarded (no model is stored), the round is recorded as failed with a reason that
    /// starts with `cancelled`, and the session runs no further round. False when `sessionId`
    /// is not running.
    func cancelRound(sessionId: String) async -> Bool {
        guard runningSessionId == sessionId else { return false }
        await runner.cancellations.cancel(sessionId)
        _ = try? stop(sessionId: sessionId)
        await runner.jobs.release(sessionId: sessionId)
        await runner.cohort.abandon(sessionId: sessionId)
        note("ROUND_CANCELLED", "the current round was cancelled; its updates are discarded", session: sessionId, level: "WARNING")
        return true
    }

    /// Starts a prediction run (`/predictions/start`, `/control/start_inference`): every
    /// online client runs inference with `modelId` on its local data and reports a summary,
    /// stored as one prediction per client under `predictionId`. Refused while a session runs.
    func startPrediction(predictionId: String, modelId: String, timeout: Double) async throws {
        if let id = runningSessionId { throw StartError.busy("session \(id) is running") }
        if let other = predicting { throw StartError.busy("prediction \(other) is running") }
        guard try store.fetch(ModelRecord.self, id: modelId) != nil else { throw StartError.noSeedModel }
        guard await registry.onlineClientCount() > 0 else { throw StartError.notEnoughClients(0, 1) }
        predicting = predictionId
        note("PREDICTION_STARTED", "prediction \(predictionId) started with model \(modelId)", session: nil, correlationId: predictionId)
        Task {
            let stored = await runner.predict(predictionId: predictionId, modelId: modelId, timeout: timeout)
            self.finishPrediction(predictionId, stored: stored)
        }
    }

    private func finishPrediction(_ id: String, stored: Int) {
        predicting = nil
        note("PREDICTION_COMPLETED", "prediction \(id) ended with \(stored) client results", session: nil,
             level: stored > 0 ? "INFO" : "WARNING", correlationId: id)
        events.publish("prediction_completed", ["prediction_id": id, "results": stored])
    }
}
