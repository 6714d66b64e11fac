import Foundation
import TributaryModel
import TributarySecAgg
import TributaryWire

/// Secure aggregation for HTTP devices: the device API's stage routes meet the round's SecAgg+
/// cohort here, the same cohort code a combiner runs for its nng clients. The controller, as
/// the devices' server, holds only the running masked sum and then the cohort's weighted sum,
/// which it hands to the job board as the cohort's partial — as a combiner would.
extension HTTPCohort {
    /// One device's SecAgg+ call for the open round; the reply is its view of the stage.
    func secure(_ kind: MessageKind, _ request: SecAggRequest, vector: [UInt32]?) throws(Refusal) -> SecAggState {
        guard var current = job, var cohort = current.secure, current.collector.order.jobId == request.jobId else { throw .noActiveRound }
        let id = request.clientId
        guard cohort.expected.contains(id) else { throw .notSelected(round: current.collector.order.round) }
        do throws(SecAggError) {
            try cohort.handle(kind, request, vector: vector)
        } catch {
            current.secure = cohort
            job = current
            logger.warning("device secure aggregation call refused", metadata: ["device": "\(id)", "job": "\(request.jobId)", "kind": "\(kind)", "error": "\(error)"])
            throw .secure(error)
        }
        if kind == .secaggKeys, let metrics = request.metrics { current.secureMetrics[id] = metrics }
        if kind == .secaggMasked { current.collector.markMaskedContribution(id) }
        current.secure = cohort
        job = current
        return SecAggState(cohort, for: id)
    }

    /// The open round's secure aggregation, when there is one: its order and cohort.
    var secureRound: (order: JobOrder, cohort: SecAggCohort)? {
        guard let current = job, let cohort = current.secure else { return nil }
        return (current.collector.order, cohort)
    }

    /// Advances the stages on the watcher's tick; true once the cohort ended (or overran).
    func secureShouldFinish() -> Bool {
        guard var current = job, var cohort = current.secure else { return false }
        cohort.advance()
        current.secure = cohort
        job = current
        return cohort.stage == .completed || cohort.stage == .failed || ContinuousClock.now >= current.deadline
    }

    /// Hands the cohort's average (weight Σ w, contributors the survivors) to the board, or its failure.
    func finishSecure(_ current: Job) async {
        job = nil
        current.watcher?.cancel()
        let order = current.collector.order
        let name = Self.participantName
        do throws(WireError) {
            guard let cohort = current.secure, let result = cohort.result, !result.participants.isEmpty else {
                let reason = "secure aggregation failed: \(current.secure?.failure ?? "its stages did not end in time")"
                try await jobs.receiveReport(JobReport(jobId: order.jobId, combiner: name, succeeded: false, reason: reason, weight: 0, clientsReported: [], metrics: [:]))
                logger.warning("HTTP cohort secure aggregation failed", metadata: ["job": "\(order.jobId)", "reason": "\(reason)"])
                return
            }
            let average = try SecureUpdate.average(global: current.global, result: result)
            let metrics = SecureUpdate.meanMetrics(result.participants.compactMap { current.secureMetrics[$0] })
            var header = UploadChunk(jobId: order.jobId, sessionId: order.sessionId, round: order.round, sender: name, index: 0, chunkCount: 0, offset: 0,
                                     totalBytes: average.spec.totalBytes, checksum: average.checksum, weight: result.totalWeight, metrics: metrics)
            header.contributors = result.participants
            header.excluded = result.dropped
            // Participation records: who contributed, with their metrics; example counts stay masked.
            header.clientResults = result.participants.map { ClientResult(clientId: $0, numExamples: 0, metrics: current.secureMetrics[$0] ?? [:]) }
            try await jobs.receiveLocalPartial(average, header: header)
            logger.info("HTTP cohort reported a secure aggregate", metadata: ["job": "\(order.jobId)", "devices": "\(result.participants.count)", "dropped": "\(result.dropped)"])
        } catch {
            logger.error("HTTP cohort could not hand its secure aggregate to the job", metadata: ["job": "\(order.jobId)", "error": "\(error.message)"])
        }
    }
}
