import Foundation
import Logging
import TributaryModel
import TributaryStore
import TributaryWire

/// Runs one round of a session: a training job over the participating combiners, the reduce
/// into a new global model (stored with its parent, session and round), then an optional
/// validation job of that model. Every wait is bounded by the round timeout; a round that
/// cannot complete is recorded as failed with its reason, never left hanging.
struct RoundRunner: Sendable {
    let store: Store
    let registry: NetworkRegistry
    let jobs: JobBoard
    let models: ModelCache
    let notices: Publisher
    let logger: Logger
    /// HTTP participants: the registry, and the tier that collects their updates.
    let httpParticipants: HTTPParticipants
    let cohort: HTTPCohort
    let cancellations: RoundCancellations

    /// What a run's start request set for every round of the run.
    struct RunOptions: Sendable {
        /// Models are named `<prefix>_<round>` (default `<session name>-round-<round>`).
        var modelNamePrefix: String? = nil
        /// Only these clients take part (nil: every online client).
        var clientIds: [String]? = nil
    }

    /// Extra time the controller waits beyond the combiners' own timeout, for their uploads.
    static func grace(for timeout: Double) -> Duration { .seconds(5 + timeout * 0.25) }

    /// Runs round `number` from model `modelIn`; returns the round as recorded.
    func run(session: SessionRecord, number: Int, modelIn: String, options: RunOptions = RunOptions()) async throws -> RoundRecord {
        let config = session.sessionConfig
        var round = RoundRecord(sessionId: session.sessionId, roundNumber: number, modelIn: modelIn)
        if let interrupted = try store.fetch(RoundRecord.self, id: round.roundId) {
            // Re-run of a round a controller crash interrupted: same row, next attempt.
            round.roundData.attempt = interrupted.roundData.attempt + 1
            round.committedAt = interrupted.committedAt
            try store.deleteOrphanModels(sessionId: session.sessionId, roundNumber: number)
            logger.warning("re-running interrupted round", metadata: ["round": "\(round.roundId)", "attempt": "\(round.roundData.attempt)"])
        }
        try store.save(round)

        // Who may take part: the session's policy over what each client did so far.
        let scores = try ParticipantScores(store: store)
        // `requested_clients` also caps the HTTP cohort (a device round's `target_devices`): a random sample.
        // In a secure-aggregation round only devices take part over HTTP: they have the SecAgg+
        // stage routes, FL-framework clients do not (they would only hold stage 0 up).
        var eligible = scores.apply(config.policy, to: try httpParticipants.activeIds(devicesOnly: config.secureAggregation != nil)).selected
        if let devices = config.selectedDevices { eligible = eligible.filter(Set(devices).contains) }
        if let only = options.clientIds { eligible = eligible.filter(only.contains) }
        if let cap = config.requestedClients, eligible.count > cap { eligible = Array(eligible.shuffled().prefix(cap)) }
        let httpMembers = Set(eligible)
        guard let participants = await waitForParticipants(timeout: .seconds(config.roundTimeout), orHTTP: !httpMembers.isEmpty) else {
            if await cancellations.isCancelled(session.sessionId) { return try fail(&round, "\(RoundCancellations.reasonPrefix) before it started") }
            return try fail(&round, "no online combiner had online clients, and no HTTP participant was active, within the round timeout")
        }
        var allowed = options.clientIds
        if config.policy != nil {
            let online = participants.flatMap(\.clients).filter { allowed?.contains($0) ?? true }
            allowed = scores.apply(config.policy, to: online).selected
        }
        let (global, _) = try await models.model(id: modelIn)
        let aggregation: ServerAggregation
        do { aggregation = ServerAggregation(settings: try config.aggregatorSettings(), unweighted: config.unweighted) } catch {
            return try fail(&round, "invalid session_config.\(error.field): \(error.message)")
        }

        round.status = .running
        try store.save(round)
        let trainStart = ContinuousClock.now
        var order = JobOrder(
            jobId: Self.jobId(round, "train"), sessionId: session.sessionId, round: number, kind: .train, modelId: modelIn,
            chunkSize: config.chunkSize, config: config.training, timeoutSeconds: config.roundTimeout, minClients: 1,
            maxClients: config.requestedClients, bufferSize: config.bufferSize > 0 ? config.bufferSize : nil, clients: allowed)
        aggregation.configure(&order)
        order.secureAggregation = config.secureAggregation
        let tiers = participants.map(\.name) + (httpMembers.isEmpty ? [] : [HTTPCohort.participantName])
        let trainingOrder = order
        guard let training = try await runJob(order, spec: global.spec, participants: tiers, timeout: config.roundTimeout, afterOpen: {
            guard !httpMembers.isEmpty else { return }
            do { try await cohort.open(trainingOrder, global: global, selected: httpMembers) } catch {
                logger.error("HTTP cohort could not open", metadata: ["job": "\(trainingOrder.jobId)", "error": "\(error)"])
            }
        }) else {
            return try fail(&round, "job was closed unexpectedly")
        }
        round.combiners = training.reports
        if await cancellations.isCancelled(session.sessionId) {
            recordCancelled(training, round: round, httpMembers: httpMembers)
            return try fail(&round, "\(RoundCancellations.reasonPrefix): the updates received were discarded")
        }
        round.roundData.timeTraining = Self.seconds(ContinuousClock.now - trainStart)
        round.roundData.trainMetrics = training.result.metrics
        round.roundData.numExamples = training.result.weight
        recordIssues(training.issues, round: round)
        recordTrainingMetrics(training, round: round)
        recordParticipation(training, round: round)

        round.status = .aggregating
        try store.save(round)
        let reduceStart = ContinuousClock.now
        let output: ServerAggregation.Output
        do {
            let previous = try store.optimizerState(sessionId: session.sessionId, before: number)
            output = try aggregation.aggregate(global: global, outcome: training, round: number, previousState: previous)
        } catch {
            return try fail(&round, "\(error)")
        }
        let required = max(config.clientsRequired, config.policy?.minClients ?? 1)
        guard output.clients >= required else {
            return try fail(&round, "\(output.clients) client updates, fewer than the \(required) required (clients_required, policy.min_clients)")
        }
        let model = output.model
        round.roundData.aggregation = output.description
        round.roundData.dp = output.dp
        let stored = try store.storeModel(model, parent: modelIn, sessionId: session.sessionId, roundNumber: number, name: options.modelNamePrefix.map { "\($0)_\(number)" } ?? "\(session.name)-round-\(number)",
                                           helper: session.sessionConfig.helperType == "numpyhelper" ? "numpyhelper" : "native")
        await models.insert(id: stored.modelId, model: model)
        round.modelOut = stored.modelId
        round.roundData.timeReduce = Self.seconds(ContinuousClock.now - reduceStart)
        // Before the round is Finished: a crash in between re-runs the round, which starts from
        // its predecessor's state again and overwrites this.
        if let state = output.optimizerState { try store.saveOptimizerState(roundId: round.roundId, state: state) }

        if config.validate {
            round.status = .validating
            try store.save(round)
            let validateStart = ContinuousClock.now
            let validation = JobOrder(
                jobId: Self.jobId(round, "validate"), sessionId: session.sessionId, round: number, kind: .validate, modelId: stored.modelId,
                chunkSize: config.chunkSize, config: config.training, timeoutSeconds: config.roundTimeout, minClients: 1,
                maxClients: config.requestedClients, clients: options.clientIds)
            let live = await registry.participants().map(\.name)
            if !live.isEmpty, let outcome = try await runJob(validation, spec: nil, participants: live, timeout: config.roundTimeout) {
                round.roundData.validation = outcome.result.metrics
                round.roundData.validation["num_examples"] = outcome.result.weight
                recordValidations(outcome, round: round, modelId: stored.modelId, jobId: validation.jobId)
            }
            round.roundData.timeValidation = Self.seconds(ContinuousClock.now - validateStart)
        }

        round.status = .completed
        round.finishedAt = Date()
        round.updatedAt = Date()
        try store.save(round)
        logger.info("round completed", metadata: [
            "session": "\(session.name)", "round": "\(number)", "model": "\(stored.modelId)",
            "clients": "\(training.result.contributors.count)", "accuracy": "\(round.roundData.validation["accuracy"].map { String(format: "%.4f", $0) } ?? "-")",
        ])
        return round
    }

    /// The combiners to task: those online with online clients. After a restart they take a
    /// heartbeat or two to come back, so wait for them, but never longer than `timeout`.
    private func waitForParticipants(timeout: Duration, orHTTP: Bool) async -> [(name: String, clients: Set<String>)]? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let participants = await registry.participants()
            if !participants.isEmpty || orHTTP { return participants }
            if ContinuousClock.now >= deadline || Task.isCancelled { return nil }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Opens a job, nudges the combiners, waits for them (bounded) and closes it.
    func runJob(_ order: JobOrder, spec: ModelSpec?, participants: [String], timeout: Double,
                afterOpen: @Sendable () async -> Void = {}) async throws -> JobBoard.Outcome? {
        try await jobs.open(order, spec: spec, participants: participants)
        await afterOpen()
        if let notice = try? Frame.encode(.roundNotice, JobNotice(jobId: order.jobId)) {
            try? notices.publish(notice)
        }
        await jobs.waitUntilDone(timeout: .seconds(timeout) + Self.grace(for: timeout))
        return await jobs.close()
    }

    /// Unique per attempt: a round re-run after a controller restart must not look like the
    /// job combiners already ran.
    static func jobId(_ round: RoundRecord, _ kind: String) -> String {
        "\(round.roundId)-\(kind)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Status events for the clients the combiners left out (rejected updates, failures).
    private func recordIssues(_ issues: [(combiner: String, issue: ClientIssue)], round: RoundRecord) {
        for (combiner, issue) in issues {
            let event = StatusRecord(
                status: "\(issue.type == ClientIssue.updateRejected ? "update rejected" : "client left out") by \(combiner): \(issue.reason)",
                type: issue.type, sessionId: round.sessionId, roundNumber: round.roundNumber, senderName: issue.clientId, senderRole: "client")
            do { try store.insert(event) } catch { logger.error("could not record status event", metadata: ["error": "\(error)"]) }
        }
    }

    private func fail(_ round: inout RoundRecord, _ reason: String) throws -> RoundRecord {
        round.status = .failed
        round.error = reason
        round.finishedAt = Date()
        round.updatedAt = Date()
        try store.save(round)
        logger.error("round failed", metadata: ["round": "\(round.roundId)", "reason": "\(reason)"])
        return round
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
