import Logging
import TributaryModel
import TributarySecAgg
import TributaryWire

/// Runs one task: downloads the round's model from the combiner, trains or validates it with
/// the trainer, and sends the result back. A trainer failure is logged and nothing is sent:
/// the combiner closes the round without this client.
struct TaskExecutor: Sendable {
    let clientId: String
    let trainer: any Trainer
    let peer: PeerConnection
    let timeout: Duration
    let logger: Logger

    func run(_ task: ClientTask) async {
        var log = logger
        log[metadataKey: "job"] = "\(task.jobId)"
        let start = ContinuousClock.now
        do {
            // `busy` (download budget, upload slots) means "wait your turn" and is retried as long
            // as the job is open — with thousands of clients most wait — up to the job's timeout
            // when the task names it; a closed job answers with an error that ends the wait.
            let patience = task.timeoutSeconds.map { Duration.milliseconds(Int64($0 * 1000)) } ?? .seconds(3600)
            var global: Model? = try await ModelTransfer.download(modelId: task.modelId, chunkSize: task.chunkSize, from: peer, timeout: timeout,
                                                                       requester: clientId, patience: patience)
            switch task.kind {
            case .train:
                let spec = global!.spec
                // Handed to the trainer whole unless secure aggregation needs it afterwards.
                let input = global!
                if task.secureAggregation == nil { global = nil }
                let result = try await trainer.train(global: consume input, config: task.config, round: task.round)
                guard result.model.spec == spec else {
                    throw WireError(.rejected, "the trainer returned a model whose tensors differ from the global model's")
                }
                if let secure = task.secureAggregation {
                    // Stage 0 lasts until everyone trained (the job's timeout); each later stage `secure.timeout`.
                    let deadline = start + .milliseconds(Int64(((task.timeoutSeconds ?? secure.timeout) + 3 * secure.timeout + 5) * 1000))
                    try await SecureAggregationRunner(clientId: clientId, peer: peer, timeout: timeout, logger: log)
                        .run(task: task, config: secure, global: global!, trained: result, deadline: deadline)
                    return
                }
                let header = UploadChunk(
                    jobId: task.jobId, sessionId: task.sessionId, round: task.round, sender: clientId, index: 0, chunkCount: 0, offset: 0,
                    totalBytes: result.model.spec.totalBytes, checksum: 0, weight: Double(result.numExamples),  // set by `upload`
                    metrics: result.metrics)
                _ = try await ModelTransfer.upload(result.model, kind: .submitUpdate, header: header, chunkSize: task.chunkSize, to: peer,
                                                   timeout: timeout, deadline: start + patience,
                                                   reserveSlot: FlowControl.reservesUploadSlot(totalBytes: result.model.spec.totalBytes))
                log.info("update sent", metadata: ["round": "\(task.round)", "examples": "\(result.numExamples)",
                                                   "train_loss": "\(result.metrics["train_loss"] ?? .nan)", "seconds": "\(ContinuousClock.now - start)"])
            case .validate, .predict:
                let result = task.kind == .predict ? try await trainer.predict(global: global!) : try await trainer.validate(global: global!)
                let report = ValidationReport(jobId: task.jobId, clientId: clientId, numExamples: result.numExamples, metrics: result.metrics)
                _ = try await peer.call(.submitValidation, report, expecting: .ack, timeout: timeout)
                log.info("validation sent", metadata: ["round": "\(task.round)", "accuracy": "\(result.metrics["accuracy"] ?? .nan)"])
            }
        } catch {
            log.error("task failed", metadata: ["kind": "\(task.kind.rawValue)", "error": "\(error)"])
            // Nothing is uploaded; tell the combiner so the round need not wait for us.
            let failure = TaskFailure(jobId: task.jobId, clientId: clientId, reason: "\(error)")
            _ = try? await peer.call(.taskFailed, failure, expecting: .ack, timeout: timeout)
        }
    }
}
