import Foundation
import Logging
import TributaryModel
import TributarySecAgg
import TributaryWire

/// The participants that exchange models over HTTP, as one more tier of a round: to the job
/// board the cohort is one participant (`http`) beside the combiners. It collects its
/// members' updates with the same `JobCollector` a combiner uses — the same checks (layout,
/// finite values, norm bound, positive example count, DP clipping) and the same streaming
/// fold, so memory is O(model) whatever the number of members — and when every selected
/// member has answered, the barrier is skipped or the round's timeout passes, it hands its
/// partial (or, for robust rules, each update) to the board exactly as a combiner would. The
/// result is therefore the flat FedAvg over nng clients and HTTP participants together.
actor HTTPCohort {
    static let participantName = "http"

    /// Why an update was not taken.
    enum Refusal: Error, Sendable {
        /// No training round is collecting HTTP updates now.
        case noActiveRound
        /// The round is open, but this client is not one of its selected participants.
        case notSelected(round: Int)
        /// This client's update for the round was already taken (or refused).
        case alreadyAnswered(round: Int)
        /// The update failed validation; nothing of it was used.
        case invalid(String)
        /// A secure-aggregation call was refused (its stage, its content, or the cohort failed).
        case secure(SecAggError)
    }

    /// An update folded into the round.
    struct Receipt: Sendable {
        var sessionId: String
        var round: Int
        var weight: Double
    }

    struct Job {
        var collector: JobCollector
        var global: Model
        var deadline: ContinuousClock.Instant
        var watcher: Task<Void, Never>?
        /// Secure aggregation of the members' updates (device stage endpoints), when the order asks for it.
        var secure: SecAggCohort?
        var secureMetrics: [String: [String: Double]] = [:]
    }

    let jobs: JobBoard
    private let maxStagingBytes: Int
    let logger: Logger
    var job: Job?

    init(jobs: JobBoard, maxStagingBytes: Int, logger: Logger) {
        self.jobs = jobs
        self.maxStagingBytes = maxStagingBytes
        self.logger = logger
    }

    /// The training round collecting HTTP updates now: its order, selected members and those
    /// that have not answered yet.
    var openRound: (order: JobOrder, selected: Set<String>, pending: Set<String>)? {
        job.map { ($0.collector.order, $0.collector.selected, $0.collector.pending) }
    }

    /// Starts collecting for a training job the board has just opened.
    func open(_ order: JobOrder, global: Model, selected: Set<String>) throws {
        job?.watcher?.cancel()
        let collector = try JobCollector(order: order, spec: global.spec, selected: selected, maxStagingBytes: maxStagingBytes, global: global)
        job = Job(collector: collector, global: global, deadline: .now + .seconds(order.timeoutSeconds))
        if let config = order.secureAggregation, order.kind == .train {
            do throws(WireError) {
                let values = try SecureUpdate.values(global).count
                job?.secure = SecAggCohort(round: order.jobId, config: config, participants: selected, values: values, firstStage: order.timeoutSeconds)
                // Stage 0 may take the whole training timeout; each later stage its own.
                job?.deadline = .now + .seconds(order.timeoutSeconds + 3 * config.timeout + 1)
            } catch {
                job = nil
                throw error
            }
        }
        job?.watcher = Task { [weak self] in
            // Bounded: ends at the deadline at the latest, or when the board skips the barrier.
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                guard let self, await self.shouldFinish(jobId: order.jobId) else { continue }
                await self.finish(jobId: order.jobId)
                return
            }
        }
        logger.info("HTTP cohort collecting", metadata: ["job": "\(order.jobId)", "members": "\(selected.count)"])
    }

    /// Drops `sessionId`'s open round unreported: it was cancelled, and what was folded is discarded.
    func abandon(sessionId: String) {
        guard let current = job, current.collector.order.sessionId == sessionId else { return }
        current.watcher?.cancel()
        job = nil
        logger.info("HTTP cohort discarded a cancelled round", metadata: ["job": "\(current.collector.order.jobId)"])
    }

    /// Validates `update` and folds it into the open round (or forwards it, for robust rules).
    func submit(clientId: String, update: Model, weight: Double, metrics: [String: Double]) async throws(Refusal) -> Receipt {
        guard let current = job else { throw .noActiveRound }
        let order = current.collector.order
        guard current.collector.selected.contains(clientId) else { throw .notSelected(round: order.round) }
        guard current.collector.pending.contains(clientId) else { throw .alreadyAnswered(round: order.round) }
        guard current.secure == nil else {
            throw .invalid("round \(order.round) uses secure aggregation: send a masked vector through the SecAgg+ stage routes, not a plain update")
        }
        let header = Self.header(order, sender: clientId, update: update, weight: weight, metrics: metrics)
        var forwarded: (Model, UploadChunk)?
        do throws(WireError) {
            // Folded into `job` in place: a copy of the job would share the running sum's
            // buffer, and the fold would then copy it whole for every update.
            for (meta, range) in header.chunks(of: update, chunkSize: order.chunkSize) {
                let outcome = try update.withBytes(in: range) { raw throws(WireError) in try job!.collector.receive(meta, payload: raw) }
                if case .forward(let model, let complete) = outcome { forwarded = (model, complete) }
            }
        } catch {
            throw .invalid(error.message)
        }
        if let (model, complete) = forwarded {
            var via = complete
            via.via = Self.participantName
            var error: String?
            do { try await jobs.receiveLocalForwarded(model, header: via) } catch let refused { error = refused.message }
            _ = job?.collector.finishForward(sender: clientId, error: error)
            if let error { throw .invalid(error) }
        }
        if job?.collector.isDone == true { await finish(jobId: order.jobId) }
        return Receipt(sessionId: order.sessionId, round: order.round, weight: weight)
    }

    /// Runs the checks an update would get in `order`'s round against `global`, folding nothing
    /// that lasts; throws `.invalid` with the reason.
    static func validate(_ update: Model, weight: Double, order: JobOrder, global: Model) throws(Refusal) {
        var scratch = order
        scratch.aggregation = .sum
        scratch.kind = .train
        do throws(WireError) {
            var collector: JobCollector
            do { collector = try JobCollector(order: scratch, spec: global.spec, selected: ["validate"], maxStagingBytes: update.spec.totalBytes, global: global) }
            catch { throw WireError(.internal, "\(error)") }
            for (meta, range) in header(scratch, sender: "validate", update: update, weight: weight, metrics: [:]).chunks(of: update, chunkSize: scratch.chunkSize) {
                _ = try update.withBytes(in: range) { raw throws(WireError) in try collector.receiveChunk(meta, payload: raw) }
            }
        } catch {
            throw .invalid(error.message)
        }
    }

    private func shouldFinish(jobId: String) async -> Bool {
        guard let current = job, current.collector.order.jobId == jobId else { return false }
        if current.secure != nil { return secureShouldFinish() }
        if current.collector.isDone || ContinuousClock.now >= current.deadline { return true }
        return await jobs.closeRequest(for: Self.participantName) == jobId
    }

    /// Closes the cohort's part of the job and hands it to the board, as a combiner reports.
    func finish(jobId: String) async {
        guard var current = job, current.collector.order.jobId == jobId else { return }
        if current.secure != nil { return await finishSecure(current) }
        job = nil
        current.watcher?.cancel()
        let order = current.collector.order
        let result = current.collector.close()
        let name = Self.participantName
        do throws(WireError) {
            if order.aggregation == .forward || result.model == nil {
                // Forward mode: the updates are at the board already; this closes the part.
                let delivered = !result.accepted.isEmpty
                try await jobs.receiveReport(JobReport(
                    jobId: order.jobId, combiner: name, succeeded: delivered, reason: delivered ? nil : "no HTTP participant delivered an update",
                    weight: result.weight, clientsReported: result.contributors, metrics: result.metrics, issues: result.issues,
                    clientResults: result.clientResults))
            } else if let model = result.model {
                var header = Self.header(order, sender: name, update: model, weight: result.weight, metrics: result.metrics)
                header.contributors = result.contributors
                header.excluded = result.excluded
                header.issues = result.issues
                header.clientResults = result.clientResults
                try await jobs.receiveLocalPartial(model, header: header)
            }
        } catch {
            logger.error("HTTP cohort could not hand its part to the job", metadata: ["job": "\(jobId)", "error": "\(error.message)"])
        }
        logger.info("HTTP cohort reported", metadata: ["job": "\(jobId)", "accepted": "\(result.accepted.count)/\(current.collector.selected.count)"])
    }

    private static func header(_ order: JobOrder, sender: String, update: Model, weight: Double, metrics: [String: Double]) -> UploadChunk {
        UploadChunk(jobId: order.jobId, sessionId: order.sessionId, round: order.round, sender: sender, index: 0, chunkCount: 0, offset: 0,
                    totalBytes: update.spec.totalBytes, checksum: 0, weight: weight, metrics: metrics)  // `chunks(of:)` fills it in
    }
}
