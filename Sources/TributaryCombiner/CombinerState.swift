import Foundation
import Logging
import TributaryModel
import TributarySecAgg
import TributaryWire

/// Everything a combiner knows, behind one actor: its clients, the job it is running with
/// the round's model, and the collector folding its clients' updates. Request handlers and
/// the job runner meet here.
actor CombinerState {
    /// Sends one validated client update on to the controller (robust rules).
    typealias Forwarder = @Sendable (_ update: Model, _ header: UploadChunk) async throws -> Void

    /// What a client's chunk led to: a receipt, or an update to forward before answering.
    enum UpdateOutcome: Sendable {
        case receipt(UploadReceipt)
        case forward(Model, UploadChunk, Forwarder)
    }

    struct ActiveJob {
        var order: JobOrder
        /// The round's model, served to clients: spooled to a file unless the job needs its
        /// values here (secure aggregation, update norms and clipping).
        var served: ServedModel?
        var checksum: UInt64 = 0
        /// Chunk checksums of `served`, computed once for all the clients it is served to.
        let chunkChecksums = ChunkChecksumCache()
        var collector: JobCollector?
        var forwarder: Forwarder?
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// The controller asked to stop waiting for clients (skipped barrier).
        var skipped = false
        /// Secure aggregation of this job's updates, when the order asks for it.
        var secure: SecAggCohort?
        /// The training metrics clients sent with their keys (secure aggregation).
        var secureMetrics: [String: [String: Double]] = [:]
        /// Masked vectors arriving in parts: what each client sent so far (element count filled).
        var maskedParts: [String: (vector: [UInt32], filled: Int)] = [:]
    }

    private var clients: ClientRegistry
    var job: ActiveJob?
    /// Jobs already run, so a heartbeat reply repeating one does not start it again.
    private var seenJobs: [String] = []
    let maxStagingBytes: Int
    /// Where served models are spooled (`SpooledModel`); nil: kept in memory.
    let spoolDirectory: URL?
    let logger: Logger

    init(heartbeatInterval: Duration, maxStagingBytes: Int, maxDownloadBytes: Int = 4 << 20, spoolDirectory: URL? = nil, logger: Logger) {
        clients = ClientRegistry(heartbeatInterval: heartbeatInterval)
        self.maxStagingBytes = maxStagingBytes
        self.spoolDirectory = spoolDirectory
        self.downloads = DownloadBudget(limit: maxDownloadBytes)
        self.logger = logger
    }

    func setHeartbeatInterval(_ interval: Duration) { clients.baseInterval = interval }

    /// The interval clients are asked to heartbeat at: the controller's, passed down.
    func heartbeatSeconds() -> Double {
        let d = clients.heartbeatInterval
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: Clients

    func registerClient(id: String, name: String) {
        clients.register(id: id, name: name)
        logger.info("client registered", metadata: ["client": "\(id)"])
    }

    /// Records a heartbeat; returns (known, the task for this client if it has one).
    func clientHeartbeat(id: String) -> (known: Bool, task: ClientTask?) {
        guard clients.heartbeat(id: id) else { return (false, nil) }
        guard let job, job.served != nil, let collector = job.collector, !collector.isClosed, collector.pending.contains(id) else {
            return (true, nil)
        }
        return (true, ClientTask(order: job.order))
    }

    func onlineClients() -> [String] { clients.online() }

    /// A request from a registered client (an upload chunk, a SecAgg+ call) is as good as a
    /// heartbeat: a client busy with its task is alive even if its heartbeats are slow.
    func noteActivity(_ id: String) { _ = clients.heartbeat(id: id) }

    func staleClients() -> [String] { clients.stale() }

    /// Forgets silent clients and stops waiting for those selected in the running job.
    func sweepClients() {
        let gone = clients.dropOffline()
        guard !gone.isEmpty else { return }
        logger.warning("clients offline", metadata: ["clients": "\(gone)"])
        for id in gone {
            job?.collector?.markFailed(id, reason: "client went offline")
            job?.secure?.withdraw(id)
        }
        wakeIfDone()
    }

    // MARK: Jobs

    /// Claims a job order; false if it was already seen.
    func claim(_ order: JobOrder) -> Bool {
        guard !seenJobs.contains(order.jobId) else { return false }
        seenJobs.append(order.jobId)
        if seenJobs.count > 64 { seenJobs.removeFirst() }
        // A newer job replaces whatever was still open.
        if let old = job { wake(old) }
        job = ActiveJob(order: order)
        return true
    }

    /// Installs the job's model and selects the clients; returns the selection. `forwarder`
    /// sends updates up in forward mode (robust rules).
    func activate(jobId: String, model: Model, checksum: UInt64? = nil, forwarder: Forwarder? = nil) throws -> [String] {
        guard var current = job, current.order.jobId == jobId else { return [] }
        var selected = clients.online()
        if let allowed = current.order.clients { selected = selected.filter { allowed.contains($0) } }
        if let max = current.order.maxClients, max > 0, selected.count > max {
            selected = Array(selected.shuffled().prefix(max)).sorted()
        }
        let order = current.order
        let needsValues = order.kind == .train && (order.secureAggregation != nil || order.maxUpdateNorm != nil || order.clipNorm != nil)
        current.checksum = checksum ?? model.checksum
        if let spoolDirectory, !needsValues {
            current.served = .spooled(try SpooledModel(model, directory: spoolDirectory))
        } else {
            current.served = .memory(model)
        }
        current.collector = try JobCollector(order: order, spec: model.spec, selected: Set(selected), maxStagingBytes: maxStagingBytes,
                                             global: needsValues ? model : nil, clientTier: true)
        current.forwarder = forwarder
        if let config = current.order.secureAggregation, current.order.kind == .train {
            current.secure = try Self.cohort(current.order, config: config, model: model, selected: selected)
        }
        job = current
        return selected
    }

    /// The job's model, for serving chunks to clients.
    func model(id: String) -> (model: ServedModel, checksum: UInt64, chunkChecksums: ChunkChecksumCache)? {
        guard let job, job.order.modelId == id, let served = job.served else { return nil }
        return (served, job.checksum, job.chunkChecksums)
    }

    /// How long an admitted or partly received upload may stay silent before its room is
    /// given to another client (a client that died mid-upload must not hold it).
    static let uploadIdleTimeout = Duration.seconds(15)

    /// Reserves room for a client's update before it sends it (see `UploadSlotRequest`).
    func reserveUploadSlot(_ request: UploadSlotRequest) throws(WireError) {
        guard job?.collector != nil else { throw WireError(.unknownJob, "no job is open here; upload slot for \(request.jobId) refused") }
        for sender in job!.collector!.dropIdleUploads(olderThan: Self.uploadIdleTimeout) {
            logger.warning("upload dropped after going silent", metadata: ["client": "\(sender)", "job": "\(request.jobId)"])
        }
        try job!.collector!.reserveUpload(request)
    }

    func receiveUpdate(_ meta: UploadChunk, frame: Frame) throws(WireError) -> UpdateOutcome {
        guard job?.collector != nil else { throw WireError(.unknownJob, "no job is open here; update for \(meta.jobId) refused") }
        defer { wakeIfDone() }
        do throws(WireError) {
            switch try job!.collector!.receive(meta, payload: frame.payload, claimedChecksum: frame.payloadChecksum) {
            case .receipt(let receipt):
                return .receipt(receipt)
            case .forward(let update, let header):
                guard let forwarder = job!.forwarder else {
                    _ = job!.collector!.finishForward(sender: header.sender, error: "no forwarder")
                    throw WireError(.internal, "job \(header.jobId) forwards updates but has no route to the controller")
                }
                return .forward(update, header, forwarder)
            }
        } catch {
            logger.warning("update rejected", metadata: ["client": "\(meta.sender)", "job": "\(meta.jobId)", "error": "\(error)"])
            throw error
        }
    }

    /// The forward of `sender`'s update ended (`error` nil: the controller took it).
    func finishForward(jobId: String, sender: String, error: String?) -> UploadReceipt? {
        guard job?.order.jobId == jobId, job?.collector != nil else { return nil }
        defer { wakeIfDone() }
        if let error { logger.warning("update not forwarded", metadata: ["client": "\(sender)", "job": "\(jobId)", "error": "\(error)"]) }
        return job!.collector!.finishForward(sender: sender, error: error)
    }

    func receiveValidation(_ report: ValidationReport) throws(WireError) {
        guard job?.collector != nil else { throw WireError(.unknownJob, "no job is open here; validation for \(report.jobId) refused") }
        defer { wakeIfDone() }
        try job!.collector!.receiveMetrics(jobId: report.jobId, sender: report.clientId, weight: Double(report.numExamples), metrics: report.metrics)
    }

    /// A selected client cannot deliver: stop waiting for it, keep its reason.
    func clientFailed(_ failure: TaskFailure) {
        guard job?.order.jobId == failure.jobId, job?.collector != nil else { return }
        logger.warning("client task failed", metadata: ["client": "\(failure.clientId)", "job": "\(failure.jobId)", "reason": "\(failure.reason)"])
        job!.collector!.markFailed(failure.clientId, reason: failure.reason)
        job!.secure?.withdraw(failure.clientId)
        wakeIfDone()
    }

    /// Waits until every selected client answered (or `bufferSize` did), or `timeout` passes.
    func waitUntilDone(jobId: String, timeout: Duration) async {
        guard let job, job.order.jobId == jobId, let collector = job.collector, !collector.isDone, !job.skipped else { return }
        let timer = Task { [weak self] in
            // A cancelled timer must not wake anyone: the next job's waiters are not ours.
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.wakeAll(jobId: jobId)
        }
        await withCheckedContinuation { continuation in self.job?.waiters.append(continuation) }
        timer.cancel()
    }

    /// An operator skipped the barrier: stop waiting for the remaining clients of `jobId`.
    func closeEarly(jobId: String) {
        guard job?.order.jobId == jobId, job?.skipped == false else { return }
        job?.skipped = true
        logger.info("barrier skipped by the controller", metadata: ["job": "\(jobId)"])
        wakeAll()
    }

    /// Closes the job's collection: later updates are refused as late. The model stays
    /// served until the next job, so slow clients can still finish downloading.
    func close(jobId: String) -> JobCollector.Result? {
        guard job?.order.jobId == jobId, job?.collector != nil else { return nil }
        return job!.collector!.close()
    }

    func wakeIfDone() {
        uploadRoom.open()
        onProgress?()
        if job?.collector?.isDone == true { wakeAll() }
    }

    /// Where uploads refused for lack of staging room wait for it (see `AdmissionGate`).
    nonisolated let uploadRoom = AdmissionGate()
    /// Model chunks on their way to clients (see `DownloadBudget`).
    nonisolated let downloads: DownloadBudget

    // MARK: Progress

    /// Called after every result offered to the running job (the service heartbeats at once,
    /// so the controller's live progress and events follow within one round trip).
    private var onProgress: (@Sendable () -> Void)?

    func setProgressHandler(_ handler: @escaping @Sendable () -> Void) { onProgress = handler }

    /// The running job's selection and accepted results, for the heartbeat.
    func progress() -> JobProgress? {
        guard let job, let collector = job.collector else { return nil }
        return JobProgress(jobId: job.order.jobId, round: job.order.round, kind: job.order.kind,
                           selected: collector.selected.count, accepted: collector.accepted)
    }

    private func wakeAll(jobId: String) {
        guard job?.order.jobId == jobId else { return }
        wakeAll()
    }

    private func wakeAll() {
        guard let current = job else { return }
        job?.waiters = []
        wake(current)
    }

    private func wake(_ job: ActiveJob) {
        for waiter in job.waiters { waiter.resume() }
    }
}
