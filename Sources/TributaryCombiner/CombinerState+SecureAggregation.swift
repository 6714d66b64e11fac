import Foundation
import TributaryModel
import TributarySecAgg
import TributaryWire

/// Secure aggregation at a combiner: its clients' SecAgg+ calls meet the job's cohort here, so
/// the combiner holds only the running masked sum and, at the end, the cohort's weighted sum.
extension CombinerState {
    static func cohort(_ order: JobOrder, config: SecAggConfig, model: Model, selected: [String]) throws(WireError) -> SecAggCohort {
        let values = try SecureUpdate.values(model).count
        return SecAggCohort(round: order.jobId, config: config, participants: selected, values: values, firstStage: order.timeoutSeconds)
    }

    /// One client SecAgg+ call (`kind` one of the secagg request kinds); the reply is its state.
    func secureAggregation(_ kind: MessageKind, _ request: SecAggRequest, payload: UnsafeRawBufferPointer) throws(WireError) -> SecAggState {
        // The cohort is read and changed in place (`job!.secure!`): a local copy would make every
        // masked vector copy the running sum, O(model) per call.
        guard job?.order.jobId == request.jobId, let (stage, length, known) = job?.secure.map({ ($0.stage, $0.vectorLength, $0.expected.contains(request.clientId)) }) else {
            throw WireError(.unknownJob, "no job with secure aggregation \(request.jobId) is open here")
        }
        let id = request.clientId
        guard known else { throw WireError(.notSelected, "\(id) is not a participant of job \(request.jobId)") }
        defer { wakeIfDone() }
        do throws(SecAggError) {
            var vector: [UInt32]?
            do { vector = kind == .secaggMasked ? try SecureUpdate.decode(payload) : nil } catch { throw SecAggError(.invalid, error.message) }
            if kind == .secaggMasked, request.offset != nil || request.total != nil {
                // One part of a larger vector: stage it; the cohort sees the vector once it is whole.
                guard stage == .collectMasked else { throw SecAggError(.outOfOrder, "stage collect_masked is not open: the round is at \(stage.rawValue)") }
                guard let part = vector, let whole = try stageMaskedPart(id, part, request, length: length) else {
                    return SecAggState(job!.secure!, for: id)
                }
                vector = whole
            }
            try job!.secure!.handle(kind, request, vector: vector)
            if kind == .secaggKeys, let metrics = request.metrics { job?.secureMetrics[id] = metrics }
            if kind == .secaggMasked { job?.collector?.markMaskedContribution(id) }
        } catch {
            logger.warning("secure aggregation call refused", metadata: ["client": "\(id)", "job": "\(request.jobId)", "kind": "\(kind)", "error": "\(error)"])
            throw error.wire
        }
        return SecAggState(job!.secure!, for: id)
    }

    /// Adds one part of `id`'s masked vector; the whole vector once every element arrived. Parts
    /// in flight count against the staging budget (a client that finds it full gets `busy`).
    private func stageMaskedPart(_ id: String, _ part: [UInt32], _ request: SecAggRequest, length: Int) throws(SecAggError) -> [UInt32]? {
        guard let offset = request.offset, let total = request.total, total == length, offset >= 0, offset + part.count <= total, !part.isEmpty else {
            throw SecAggError(.invalid, "a masked vector part must lie inside a vector of \(length) elements")
        }
        if job?.maskedParts[id] == nil {
            let inFlight = (job?.maskedParts.count ?? 0) * length * 4
            guard inFlight == 0 || inFlight + length * 4 <= maxStagingBytes else { throw SecAggError(.busy, "no staging room for another masked vector now; retry") }
            job?.maskedParts[id] = ([UInt32](repeating: 0, count: total), 0)
        }
        // In place: copying the staged vector out and back would cost O(vector) per part.
        job!.maskedParts[id]!.vector.replaceSubrange(offset..<(offset + part.count), with: part)
        job!.maskedParts[id]!.filled += part.count
        guard job!.maskedParts[id]!.filled >= total else { return nil }
        return job!.maskedParts.removeValue(forKey: id)?.vector
    }

    /// Moves the cohort on when a stage's deadline passed; returns where it stands.
    func advanceSecureAggregation(jobId: String) -> SecAggCohort.Outcome? {
        guard job?.order.jobId == jobId, job?.secure != nil else { return nil }
        job!.secure!.advance()
        return job!.secure!.outcome
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
