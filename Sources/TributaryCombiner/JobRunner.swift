import Logging
import TributaryModel
import TributarySecAgg
import TributaryWire

/// Runs one job the controller ordered: fetch the round's model once, task the selected
/// clients, fold their updates as they arrive, and when all have answered — or the timeout
/// passed with at least the minimum — send the partial aggregate (or the validation
/// metrics) up; otherwise report the failure. Never waits longer than the job's timeout.
struct JobRunner: Sendable {
    let name: String
    let state: CombinerState
    let controller: PeerConnection
    let notices: Publisher
    let requestTimeout: Duration
    let logger: Logger

    func run(_ order: JobOrder) async {
        let start = ContinuousClock.now
        let deadline = start + .seconds(order.timeoutSeconds)
        var log = logger
        log[metadataKey: "job"] = "\(order.jobId)"
        do {
            let (selected, model) = try await install(order)
            guard !selected.isEmpty else {
                await report(order, failure: "no online clients")
                return
            }
            let installed = ContinuousClock.now
            log.info("job started", metadata: ["kind": "\(order.kind.rawValue)", "round": "\(order.round)", "clients": "\(selected.count)",
                                               "model_seconds": "\(installed - start)"])
            if let notice = try? Frame.encode(.taskNotice, JobNotice(jobId: order.jobId)) {
                try? notices.publish(notice)
            }
            if let config = order.secureAggregation, order.kind == .train, let model {
                try await runSecure(order, config: config, model: model, deadline: deadline, log: log)
                return
            }
            await state.waitUntilDone(jobId: order.jobId, timeout: deadline - .now)
            guard let result = await state.close(jobId: order.jobId) else { return }
            let collected = ContinuousClock.now
            guard result.accepted.count >= max(order.minClients, 1) else {
                await report(order, failure: "\(result.accepted.count) of \(selected.count) clients answered; \(order.minClients) required", issues: result.issues)
                return
            }
            switch order.kind {
            case .train where order.aggregation == .forward:
                // Every accepted update is already at the controller; this closes our part.
                try await send(JobReport(jobId: order.jobId, combiner: name, succeeded: true, weight: result.weight,
                                         clientsReported: result.contributors, metrics: result.metrics, issues: result.issues,
                                         clientResults: result.clientResults))
            case .train:
                guard let average = result.model else { throw WireError(.internal, "no aggregate for an accepted job") }
                let header = UploadChunk(
                    jobId: order.jobId, sessionId: order.sessionId, round: order.round, sender: name, index: 0, chunkCount: 0, offset: 0,
                    totalBytes: average.spec.totalBytes, checksum: 0, weight: result.weight, metrics: result.metrics,
                    contributors: result.contributors, excluded: result.excluded, issues: result.issues, clientResults: result.clientResults)
                _ = try await ModelTransfer.upload(average, kind: .submitPartial, header: header, chunkSize: order.chunkSize, to: controller,
                                                   timeout: requestTimeout, deadline: .now + requestTimeout)
            case .validate, .predict:
                try await send(JobReport(jobId: order.jobId, combiner: name, succeeded: true, weight: result.weight,
                                         clientsReported: result.contributors, metrics: result.metrics, clientResults: result.clientResults))
            }
            let elapsed = ContinuousClock.now - start
            log.info("job reported", metadata: ["clients": "\(result.accepted.count)/\(selected.count)", "rejected": "\(result.rejected.count)",
                                                "collect_seconds": "\(collected - installed)", "seconds": "\(elapsed)"])
        } catch {
            log.error("job failed", metadata: ["error": "\(error)"])
            await report(order, failure: "\(error)")
        }
    }

    /// Fetches the round's model and installs it in the state. The model comes back only when
    /// this runner needs its values (secure aggregation), so otherwise nothing here keeps it
    /// alive once the state has spooled it.
    private func install(_ order: JobOrder) async throws -> (selected: [String], model: Model?) {
        let (model, checksum) = try await ModelTransfer.downloadChecked(modelId: order.modelId, chunkSize: order.chunkSize, from: controller, timeout: requestTimeout)
        let selected = try await state.activate(jobId: order.jobId, model: model, checksum: checksum, forwarder: order.aggregation == .forward ? forwarder(order) : nil)
        return (selected, order.secureAggregation != nil && order.kind == .train ? model : nil)
    }

    /// Secure aggregation: drive the cohort's stages to their end (each bounded by its timeout),
    /// then send the cohort's average up as the partial — the only thing this combiner learned.
    private func runSecure(_ order: JobOrder, config: SecAggConfig, model: Model, deadline: ContinuousClock.Instant, log: Logger) async throws {
        let end = deadline + .milliseconds(Int64(3 * config.timeout * 1000 + 1000))
        var outcome = await state.advanceSecureAggregation(jobId: order.jobId)
        while let current = outcome, current.stage != .completed, current.stage != .failed, ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(50))
            outcome = await state.advanceSecureAggregation(jobId: order.jobId)
        }
        _ = await state.close(jobId: order.jobId)
        guard let outcome, let result = outcome.result else {
            await report(order, failure: "secure aggregation failed: \(outcome?.failure ?? "its stages did not end in time") (at \(outcome?.stage.rawValue ?? "?"))")
            return
        }
        guard result.participants.count >= max(order.minClients, 1) else {
            await report(order, failure: "secure aggregation: \(result.participants.count) clients survived; \(order.minClients) required")
            return
        }
        let average = try SecureUpdate.average(global: model, result: result)
        let header = UploadChunk(
            jobId: order.jobId, sessionId: order.sessionId, round: order.round, sender: name, index: 0, chunkCount: 0, offset: 0,
            totalBytes: average.spec.totalBytes, checksum: 0, weight: result.totalWeight,
            metrics: await state.secureMetrics(of: result.participants), contributors: result.participants, excluded: result.dropped,
            clientResults: await state.secureClientResults(result.participants))
        _ = try await ModelTransfer.upload(average, kind: .submitPartial, header: header, chunkSize: order.chunkSize, to: controller,
                                           timeout: requestTimeout, deadline: .now + requestTimeout)
        log.info("secure aggregate reported", metadata: ["clients": "\(result.participants.count)", "dropped": "\(result.dropped)"])
    }

    /// Sends one client's validated update on to the controller (`forwardUpdate`, chunked):
    /// `sender` stays the client, `via` names this combiner.
    private func forwarder(_ order: JobOrder) -> CombinerState.Forwarder {
        { [name, controller, requestTimeout] update, client in
            let header = UploadChunk(
                jobId: client.jobId, sessionId: client.sessionId, round: client.round, sender: client.sender, index: 0, chunkCount: 0,
                offset: 0, totalBytes: update.spec.totalBytes, checksum: 0, weight: client.weight, metrics: client.metrics, via: name)
            _ = try await ModelTransfer.upload(update, kind: .forwardUpdate, header: header, chunkSize: order.chunkSize, to: controller,
                                               timeout: requestTimeout, deadline: .now + requestTimeout)
        }
    }

    private func report(_ order: JobOrder, failure: String, issues: [ClientIssue] = []) async {
        _ = await state.close(jobId: order.jobId)
        do {
            try await send(JobReport(jobId: order.jobId, combiner: name, succeeded: false, reason: failure, weight: 0, clientsReported: [],
                                     metrics: [:], issues: issues))
        } catch {
            logger.error("could not report failure", metadata: ["job": "\(order.jobId)", "error": "\(error)"])
        }
    }

    private func send(_ report: JobReport) async throws {
        _ = try await controller.call(.submitJobReport, report, expecting: .ack, timeout: requestTimeout)
    }
}
