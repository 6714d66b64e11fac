import Foundation
import Logging
import TributaryModel
import TributarySecAgg
import TributaryWire

/// A client's side of one SecAgg+ round with its combiner: after training, advertise keys, share
/// the secrets with the neighbourhood, send the masked update, and answer the unmask request.
/// Between its own calls it polls (`secaggPoll`) until the stage it needs opens; every wait
/// ends at `deadline` or when the cohort fails.
struct SecureAggregationRunner: Sendable {
    let clientId: String
    let peer: PeerConnection
    let timeout: Duration
    let logger: Logger

    func run(task: ClientTask, config: SecAggConfig, global: Model, trained: TrainingResult, deadline: ContinuousClock.Instant) async throws {
        var participant = SecAggParticipant(id: clientId, round: task.jobId, config: config)
        let delta = try SecureUpdate.delta(trained: trained.model, global: global, clipNorm: task.clipNorm)
        let examples = task.unweighted == true ? 1 : trained.numExamples
        let keys = participant.publicKeys
        var state = try await call(.secaggKeys, SecAggRequest(jobId: task.jobId, clientId: clientId, maskingKey: keys.masking, sharingKey: keys.sharing,
                                                              metrics: trained.metrics))
        state = try await wait(from: state, task: task, deadline: deadline) { $0.neighbours != nil }
        let bundles = try participant.shareKeys(state.neighbours ?? []).mapValues { Data($0).base64EncodedString() }
        state = try await call(.secaggBundles, SecAggRequest(jobId: task.jobId, clientId: clientId, bundles: bundles))
        state = try await wait(from: state, task: task, deadline: deadline) { $0.bundles != nil }
        try participant.receive(try decodeBase64Map(state.bundles, "a share bundle"))
        let vector = try participant.mask(delta, examples: examples)
        let parts: Int
        (state, parts) = try await sendMasked(vector, task: task, deadline: deadline)
        state = try await wait(from: state, task: task, deadline: deadline) { $0.active != nil || $0.stage == .completed }
        guard let active = state.active, let dropped = state.dropped else { return }
        let shares = try participant.unmask(active: active, dropped: dropped).mapValues { Data($0).base64EncodedString() }
        _ = try await call(.secaggUnmask, SecAggRequest(jobId: task.jobId, clientId: clientId, shares: shares))
        logger.info("masked update sent", metadata: ["round": "\(task.round)", "parts": "\(parts)", "dropped": "\(dropped.count)"])
    }

    /// Stage 2: the vector in one message when it fits the job's chunk size, else in parts of it.
    private func sendMasked(_ vector: [UInt32], task: ClientTask, deadline: ContinuousClock.Instant) async throws -> (SecAggState, parts: Int) {
        let bytes = SecureUpdate.encode(vector)
        let perPart = max(1, task.chunkSize / 4)
        let parts = vector.count <= perPart ? [0..<vector.count] : stride(from: 0, to: vector.count, by: perPart).map { $0..<min($0 + perPart, vector.count) }
        var state: SecAggState?
        for range in parts {
            let meta = SecAggRequest(jobId: task.jobId, clientId: clientId, offset: parts.count > 1 ? range.lowerBound : nil, total: parts.count > 1 ? vector.count : nil)
            var pause = Duration.milliseconds(20)
            while true {
                let request = try bytes.withUnsafeBytes { raw in
                    try peer.encode(.secaggMasked, meta, payload: UnsafeRawBufferPointer(rebasing: raw[(4 * range.lowerBound)..<(4 * range.upperBound)]))
                }
                do {
                    state = try check(try await peer.send(request, expecting: .secaggState, timeout: timeout).decodeMetadata(SecAggState.self))
                    break
                } catch {
                    // The combiner's staging room is full: wait for others' parts to complete.
                    guard (error as? WireError)?.code == .busy, ContinuousClock.now + pause < deadline else { throw error }
                    try await Task.sleep(for: pause)
                    pause = min(pause * 2, .milliseconds(500))
                }
            }
        }
        return (state!, parts.count)
    }

    private func call(_ kind: MessageKind, _ request: SecAggRequest) async throws -> SecAggState {
        try check(try await peer.call(kind, request, expecting: .secaggState, as: SecAggState.self, timeout: timeout))
    }

    private func check(_ state: SecAggState) throws -> SecAggState {
        if state.stage == .failed { throw WireError(.rejected, "secure aggregation failed: \(state.failure ?? "")") }
        return state
    }

    /// Polls until `ready(state)` holds; 50 ms between polls.
    private func wait(from state: SecAggState, task: ClientTask, deadline: ContinuousClock.Instant, until ready: (SecAggState) -> Bool) async throws -> SecAggState {
        var state = state
        while !ready(state) {
            guard ContinuousClock.now < deadline else { throw WireError(.rejected, "secure aggregation: stage \(state.stage.rawValue) did not end in time") }
            try await Task.sleep(for: .milliseconds(50))
            state = try await call(.secaggPoll, SecAggRequest(jobId: task.jobId, clientId: clientId))
        }
        return state
    }
}
