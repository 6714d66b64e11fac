import Foundation
import Logging
import TributaryModel
import TributaryStore
import TributaryWire

/// The job the controller is running now (one training or validation step of a round):
/// which combiners take part, what each has delivered, and the FedAvg reduce of their
/// partials — or, for robust rules, every client update they forwarded. Combiners learn
/// their job from heartbeat replies; PUB notices only nudge.
actor JobBoard {
    struct Outcome: Sendable {
        var result: JobCollector.Result
        var reports: [CombinerReport]
        /// Forward mode: every client update received, in arrival order, and the spill files
        /// holding them (removed when the last reference goes).
        var updates: [ForwardedUpdates.Entry]
        var spill: SpilledUpdates?
        /// Clients the combiners left out, and why (for status events).
        var issues: [(combiner: String, issue: ClientIssue)]
    }

    private struct Active {
        var collector: JobCollector
        var forwarded: ForwardedUpdates?
        var startedAt: ContinuousClock.Instant
        var reports: [String: CombinerReport] = [:]
        var issues: [(combiner: String, issue: ClientIssue)] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Cancelled: nobody waits for this job any more.
        var released = false
        /// An operator skipped the barrier: participants are told to report what they have.
        var skipped = false
    }

    private let logger: Logger
    private let maxStagingBytes: Int
    /// Where forwarded updates of robust rules are spilled, one directory per job.
    private let spillDirectory: URL
    private var active: Active?

    init(maxStagingBytes: Int, spillDirectory: URL, logger: Logger) {
        self.maxStagingBytes = maxStagingBytes
        self.spillDirectory = spillDirectory
        self.logger = logger
        // Spill files of rounds a dead controller never finished are of no use to anyone.
        try? FileManager.default.removeItem(at: spillDirectory)
    }

    /// Opens a job for `participants`; `spec` is the model layout (training jobs).
    func open(_ order: JobOrder, spec: ModelSpec?, participants: [String]) throws {
        let collector = try JobCollector(order: order, spec: spec, selected: Set(participants), maxStagingBytes: maxStagingBytes)
        var forwarded: ForwardedUpdates?
        if order.kind == .train, order.aggregation == .forward, let spec {
            forwarded = try ForwardedUpdates(order: order, spec: spec, maxStagingBytes: maxStagingBytes,
                                             spillDirectory: spillDirectory.appendingPathComponent(order.jobId, isDirectory: true))
        }
        active = Active(collector: collector, forwarded: forwarded, startedAt: .now)
    }

    /// The order a combiner should be working on, if it is a participant that has not answered.
    func order(for combiner: String) -> JobOrder? {
        guard let active, !active.collector.isClosed, active.collector.pending.contains(combiner) else { return nil }
        return active.collector.order
    }

    /// The job a combiner should close now (the barrier was skipped), if it still owes a result.
    func closeRequest(for combiner: String) -> String? {
        guard let active, active.skipped, !active.collector.isClosed, active.collector.pending.contains(combiner) else { return nil }
        return active.collector.order.jobId
    }

    /// Skips the barrier of the open job: combiners stop waiting for their clients and report
    /// what has arrived (told in their next heartbeat reply). Returns the job, or nil if none is open.
    func skip() -> JobOrder? {
        guard active != nil, !active!.collector.isClosed else { return nil }
        active!.skipped = true
        logger.info("barrier skipped", metadata: ["job": "\(active!.collector.order.jobId)"])
        return active!.collector.order
    }

    /// The job open now, if any.
    var openOrder: JobOrder? { active?.collector.order }

    /// Takes one chunk of a combiner's partial aggregate.
    func receivePartial(_ meta: UploadChunk, frame: Frame) throws(WireError) -> UploadReceipt {
        try receivePartial(meta, payload: frame.payload, claimedChecksum: frame.payloadChecksum)
    }

    /// A partial from a tier inside this process (the HTTP cohort), split into chunks as a
    /// combiner's upload is, so it meets exactly the same checks.
    func receiveLocalPartial(_ model: Model, header: UploadChunk) throws(WireError) {
        for (meta, range) in header.chunks(of: model, chunkSize: active?.collector.order.chunkSize ?? ChunkPlan.defaultChunkSize) {
            _ = try model.withBytes(in: range) { raw throws(WireError) in try receivePartial(meta, payload: raw) }
        }
    }

    /// A client update the HTTP cohort forwards (robust rules), chunked like a combiner's.
    func receiveLocalForwarded(_ model: Model, header: UploadChunk) throws(WireError) {
        for (meta, range) in header.chunks(of: model, chunkSize: active?.collector.order.chunkSize ?? ChunkPlan.defaultChunkSize) {
            _ = try model.withBytes(in: range) { raw throws(WireError) in try receiveForwarded(meta, payload: raw) }
        }
    }

    /// Changes `active` in place (`active!.…`): a copy of it would share the accumulator's
    /// buffer, and the fold would then copy the whole running sum for every chunk.
    private func receivePartial(_ meta: UploadChunk, payload: UnsafeRawBufferPointer, claimedChecksum: UInt64? = nil) throws(WireError) -> UploadReceipt {
        guard active != nil else { throw WireError(.unknownJob, "no job is open; partial for \(meta.jobId) refused") }
        defer { wakeIfDone() }
        let receipt = try active!.collector.receiveChunk(meta, payload: payload, claimedChecksum: claimedChecksum)
        if receipt.status == .accepted {
            active!.issues += (meta.issues ?? []).map { (meta.sender, $0) }
            active!.reports[meta.sender] = CombinerReport(
                name: meta.sender, status: "Success", clients: meta.contributors, weight: meta.weight,
                timeSeconds: seconds(since: active!.startedAt), excluded: meta.excluded ?? [])
            logger.info("partial accepted", metadata: ["job": "\(meta.jobId)", "combiner": "\(meta.sender)", "clients": "\(meta.contributors.count)"])
        }
        return receipt
    }

    /// Takes one chunk of a client update a combiner forwards (robust rules); only from a
    /// participant that has not closed its part yet.
    func receiveForwarded(_ meta: UploadChunk, frame: Frame) throws(WireError) -> UploadReceipt {
        try receiveForwarded(meta, payload: frame.payload, claimedChecksum: frame.payloadChecksum)
    }

    private func receiveForwarded(_ meta: UploadChunk, payload: UnsafeRawBufferPointer, claimedChecksum: UInt64? = nil) throws(WireError) -> UploadReceipt {
        guard active?.forwarded != nil else {
            throw WireError(.unknownJob, "no job taking forwarded updates is open; update for \(meta.jobId) refused")
        }
        guard let via = meta.via, active!.collector.pending.contains(via) else {
            throw WireError(.notSelected, "\(meta.via ?? "?") is not a participant still delivering for job \(meta.jobId)")
        }
        let receipt = try active!.forwarded!.receive(meta, payload: payload, claimedChecksum: claimedChecksum)
        if receipt.status == .accepted {
            logger.info("client update forwarded", metadata: ["job": "\(meta.jobId)", "combiner": "\(via)", "client": "\(meta.sender)"])
        }
        return receipt
    }

    /// Takes a combiner's report: validation metrics, the end of its forwarded updates, or a failure.
    func receiveReport(_ report: JobReport) throws(WireError) {
        guard var current = active else { throw WireError(.unknownJob, "no job is open; report for \(report.jobId) refused") }
        defer { active = current; wakeIfDone() }
        guard report.jobId == current.collector.order.jobId else {
            throw WireError(.unknownJob, "report for job \(report.jobId) does not belong to the open job \(current.collector.order.jobId)")
        }
        let elapsed = seconds(since: current.startedAt)
        current.issues += (report.issues ?? []).map { (report.combiner, $0) }
        if report.succeeded {
            try current.collector.receiveMetrics(jobId: report.jobId, sender: report.combiner, weight: report.weight,
                                                 metrics: report.metrics, contributors: report.clientsReported, clientResults: report.clientResults)
            current.reports[report.combiner] = CombinerReport(name: report.combiner, status: "Success", clients: report.clientsReported, weight: report.weight, timeSeconds: elapsed)
        } else {
            current.collector.markFailed(report.combiner, reason: report.reason ?? "failed")
            current.reports[report.combiner] = CombinerReport(name: report.combiner, status: "Failed", clients: report.clientsReported, weight: 0, reason: report.reason, timeSeconds: elapsed)
            logger.warning("combiner failed its job", metadata: ["job": "\(report.jobId)", "combiner": "\(report.combiner)", "reason": "\(report.reason ?? "")"])
        }
    }

    /// A participant is gone (it left): stop waiting for it.
    func participantGone(_ name: String, reason: String) {
        guard active != nil, active!.collector.pending.contains(name) else { return }
        active!.collector.markFailed(name, reason: reason)
        active!.reports[name] = CombinerReport(name: name, status: "Failed", clients: [], weight: 0, reason: reason)
        wakeIfDone()
    }

    /// Waits until every participant has answered, or until `timeout` passes.
    func waitUntilDone(timeout: Duration) async {
        guard let current = active, !current.collector.isDone, !current.released else { return }
        let jobId = current.collector.order.jobId
        let timer = Task { [weak self] in
            // A cancelled timer must not wake anyone: the next job's waiters are not ours.
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.wakeAll(jobId: jobId)
        }
        await withCheckedContinuation { continuation in
            active?.waiters.append(continuation)
        }
        timer.cancel()
    }

    /// Closes the job: later partials are refused as late. Combiners that never answered are
    /// recorded as "NoReport".
    func close() -> Outcome? {
        guard active != nil else { return nil }
        // Closed in place: the average is computed in the accumulator's own buffer.
        let result = active!.collector.close()
        var current = active!
        for name in current.collector.selected where current.reports[name] == nil {
            current.reports[name] = CombinerReport(name: name, status: "NoReport", clients: [], weight: 0, reason: "no result before the round timeout")
        }
        active = nil
        return Outcome(result: result, reports: current.reports.values.sorted { $0.name < $1.name },
                       updates: current.forwarded?.entries ?? [], spill: current.forwarded?.spill, issues: current.issues)
    }

    /// Where partials refused for lack of staging room wait for it (see `AdmissionGate`).
    nonisolated let uploadRoom = AdmissionGate()

    private func wakeIfDone() {
        uploadRoom.open()
        if active?.collector.isDone == true { wakeAll() }
    }

    /// Ends the wait for `sessionId`'s open job now (a cancelled round discards it).
    func release(sessionId: String) {
        guard active?.collector.order.sessionId == sessionId else { return }
        active?.released = true
        wakeAll()
    }

    private func wakeAll(jobId: String) {
        guard active?.collector.order.jobId == jobId else { return }
        wakeAll()
    }

    private func wakeAll() {
        let waiters = active?.waiters ?? []
        active?.waiters = []
        for waiter in waiters { waiter.resume() }
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
