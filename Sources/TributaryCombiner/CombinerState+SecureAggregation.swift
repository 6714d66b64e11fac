import Foundation
import TributaryModel
import TributarySecAgg
import TributaryWire

/// Secure aggregation at a combiner: its clients' SecAgg+ calls meet the job's cohort here, so
/// the combiner holds only the running masked sum and, at the end, the cohort's weighted sum.
extension CombinerState {
    static func cohort(_ order: JobOrder, config: SecAggConfig, model: Model, selected: [String]) throws(WireError) -> SecAggCohort {
        let values = try SecureUpdate.values(model).count
        guard (values + 1) * 4 <= Frame.defaultMaxPayload else {
            throw WireError(.rejected, "secure aggregation sends a masked vector in one message: at most \(Frame.defaultMaxPayload / 4 - 1) values, the model has \(values)")
        }
        return SecAggCohort(round: order.jobId, config: config, participants: selected, values: values, firstStage: order.timeoutSeconds)
    }

    /// One client SecAgg+ call (`kind` one of the secagg request kinds); the reply is its state.
    func secureAggregation(_ kind: MessageKind, _ request: SecAggRequest, payload: UnsafeRawBufferPointer) throws(WireError) -> SecAggState {
        guard var cohort = job?.secure, job?.order.jobId == request.jobId else {
            throw WireError(.unknownJob, "no job with secure aggregation \(request.jobId) is open here")
        }
        let id = request.clientId
        guard cohort.expected.contains(id) else { throw WireError(.notSelected, "\(id) is not a participant of job \(request.jobId)") }
        defer { wakeIfDone() }
        do throws(SecAggError) {
            let vector: [UInt32]?
            do { vector = kind == .secaggMasked ? try SecureUpdate.decode(payload) : nil } catch { throw SecAggError(.invalid, error.message) }
            try cohort.handle(kind, request, vector: vector)
            if kind == .secaggKeys, let metrics = request.metrics { job?.secureMetrics[id] = metrics }
            if kind == .secaggMasked { job?.collector?.markMaskedContribution(id) }
        } catch {
            logger.warning("secure aggregation call refused", metadata: ["client": "\(id)", "job": "\(request.jobId)", "kind": "\(kind)", "error": "\(error)"])
            job?.secure = cohort
            throw error.wire
        }
        job?.secure = cohort
        return SecAggState(cohort, for: id)
    }

    /// Moves the cohort on when a stage's deadline passed; returns where it stands.
    func advanceSecureAggregation(jobId: String) -> SecAggCohort? {
        guard job?.order.jobId == jobId, var cohort = job?.secure else { return nil }
        cohort.advance()
        job?.secure = cohort
        return cohort
    }

    /// Each survivor as a client result (for participation records): its metrics, no example
    /// count — that was masked.
    func secureClientResults(_ participants: [String]) -> [ClientResult] {
        participants.map { ClientResult(clientId: $0, numExamples: 0, metrics: job?.secureMetrics[$0] ?? [:]) }
    }

    /// The mean of the metrics the cohort's survivors reported, by name.
    func secureMetrics(of participants: [String]) -> [String: Double] {
        SecureUpdate.meanMetrics(participants.compactMap { job?.secureMetrics[$0] })
    }
}
