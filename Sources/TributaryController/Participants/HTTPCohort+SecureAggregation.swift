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
        // In place (`job!.secure!`): a copy of the job would make every masked vector copy the running sum.
        guard let order = job?.collector.order, order.jobId == request.jobId, let known = job?.secure.map({ $0.expected.contains(request.clientId) }) else {
            throw .noActiveRound
        }
        let id = request.clientId
        guard known else { throw .notSelected(round: order.round) }
        do throws(SecAggError) {
            try job!.secure!.handle(kind, request, vector: vector)
        } catch {
            logger.warning("device secure aggregation call refused", metadata: ["device": "\(id)", "job": "\(request.jobId)", "kind": "\(kind)", "error": "\(error)"])
            throw .secure(error)
        }
        if kind == .secaggKeys, let metrics = request.metrics { job!.secureMetrics[id] = metrics }
        if kind == .secaggMasked { job!.collector.markMaskedContribution(id) }
        return SecAggState(job!.secure!, for: id)
    }

    /// The open round's secure aggregation as `device` may see it: the order, parameters and
    /// counts, and its own state (nil when it is not a participant); nil without a secure round.
    func secureView(for device: String?) -> (order: JobOrder, config: SecAggConfig, counts: [String: Int], state: SecAggState?)? {
        guard let order = job?.collector.order, let cohort = job?.secure else { return nil }
        let state = device.flatMap { cohort.expected.contains($0) ? SecAggState(cohort, for: $0) : nil }
        return (order, cohort.config, cohort.counts, state)
    }

    /// Advances the stages on the watcher's tick; true once the cohort ended (or overran).
    func secureShouldFinish() -> Bool {
        guard job?.secure != nil else { return false }
        job!.secure!.advance()
        let stage = job!.secure!.stage
        return stage == .completed || stage == .failed || ContinuousClock.now >= job!.deadline
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
                                     totalBytes: average.spec.totalBytes, checksum: 0, weight: result.totalWeight, metrics: metrics)
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
