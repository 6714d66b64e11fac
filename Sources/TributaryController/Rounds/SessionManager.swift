import Foundation
import Logging
import Metrics
import TributaryStore

/// Starts, continues and stops sessions; at most one job-driving activity (a session or a
/// prediction run) at a time. A session runs its rounds in a task of its own: round after
/// round from its current model, until the run's round count is reached or it is stopped.
/// Each start or continuation is a run (`/api/v1/runs`); lifecycle events become status
/// events (`/api/v1/statuses`) and live events (`/ws/events`).
actor SessionManager {
    enum StartError: Error, CustomStringConvertible {
        case notFound(String), alreadyRunning, notEnoughClients(Int, Int), noSeedModel, busy(String)
        var description: String {
            switch self {
            case .notFound(let id): "Session with specified ID does not exist: \(id)"
            case .alreadyRunning: "A session is already running!"
            case .notEnoughClients(let have, let need): "Number of available clients (\(have)) is lower than the required minimum of \(need)"
            case .noSeedModel: "Session seed model not found"
            case .busy(let what): "The controller is busy: \(what)"
            }
        }
    }

    /// What a start request may set for this run (`/sessions/start`, `/control/start_session`).
    struct StartOptions: Sendable {
        var rounds: Int? = nil
        var roundTimeout: Double? = nil
        var modelNamePrefix: String? = nil
        var clientIds: [String]? = nil
        /// Refuse to start with fewer available participants than required (device rounds
        /// start anyway and fail at their timeout if too few updates come).
        var requireAvailable = true
    }

    let store: Store
    let registry: NetworkRegistry
    let runner: RoundRunner
    let logger: Logger
    let events: EventHub
    private var running: (id: String, runId: String?, task: Task<Void, Never>)?
    /// A prediction run in progress (it uses the job board, so sessions wait for it).
    var predicting: String?

    init(store: Store, registry: NetworkRegistry, runner: RoundRunner, events: EventHub = EventHub(), logger: Logger) {
        self.store = store
        self.registry = registry
        self.runner = runner
        self.events = events
        self.logger = logger
    }

    var runningSessionId: String? { running?.id }

    /// FEDn's controller state: `instructing` while a session or prediction drives jobs.
    var state: String { running != nil || predicting != nil ? "instructing" : "idle" }

    /// Checks and starts a session. A Created session runs `rounds` (default: its config's);
    /// an ended one (Finished, Terminated, Failed) continues from its latest model for
    /// `rounds` more.
    func start(sessionId: String, options: StartOptions = StartOptions()) async throws -> (SessionRecord, RunRecord) {
        guard running == nil else { throw StartError.alreadyRunning }
        if let predicting { throw StartError.busy("prediction \(predicting) is running") }
        guard var session = try store.fetch(SessionRecord.self, id: sessionId) else { throw StartError.notFound(sessionId) }
        let rounds = try store.fetchAll(RoundRecord.self, where: "session_id", equals: sessionId)
        let done = rounds.filter { $0.status == .completed || $0.status == .failed }.map(\.roundNumber).max() ?? 0
        // A continuation runs as many rounds as the last run did, unless told otherwise
        // (`session_config.rounds` holds the session's running total by then).
        let lastRun = try store.fetchAll(RunRecord.self, where: "session_id", equals: sessionId).max { $0.committedAt < $1.committedAt }
        let count = options.rounds ?? (session.status == .created ? nil : lastRun?.rounds) ?? session.sessionConfig.rounds
        session.sessionConfig.rounds = session.status == .created ? count : done + count
        if let timeout = options.roundTimeout { session.sessionConfig.roundTimeout = timeout }

        // nng clients online and HTTP participants active both count.
        let online = await registry.onlineClientIds().union(try runner.httpParticipants.activeIds())
        let available = options.clientIds.map { Set($0).intersection(online).count } ?? online.count
        let required = max(session.sessionConfig.clientsRequired, session.sessionConfig.policy?.minClients ?? 1)
        guard available >= required || !options.requireAvailable else {
            throw StartError.notEnoughClients(available, required)
        }
        let model = session.sessionConfig.modelId ?? session.seedModelId
        guard let model, try store.fetch(ModelRecord.self, id: model) != nil else { throw StartError.noSeedModel }
        session.sessionConfig.modelId = model
        session.status = .started
        session.startedAt = session.startedAt ?? Date()
        session.finishedAt = nil
        session.updatedAt = Date()
        let run = RunRecord(sessionId: sessionId, modelId: model, rounds: count, roundTimeout: session.sessionConfig.roundTimeout,
                            clientIds: options.clientIds, modelNamePrefix: options.modelNamePrefix)
        let started = session
        try await store.database.write { db in
            try started.save(db)
            try run.insert(db)
        }
        let runOptions = RoundRunner.RunOptions(modelNamePrefix: options.modelNamePrefix, clientIds: options.clientIds)
        running = (sessionId, run.runId, Task { await self.runRounds(started, options: runOptions) })
        note("SESSION_STARTED", "session \(session.name) started: rounds \(done + 1) to \(session.sessionConfig.rounds)", session: sessionId)
        events.publish("session_started", ["session_id": sessionId, "experiment_id": session.name, "rounds": session.sessionConfig.rounds])
        return (session, run)
    }

    /// Resumes the session a stopped or crashed controller left running (status Started):
    /// rounds continue from the last finished one once combiners are back.
    func resumeInterrupted() throws {
        let started = try store.fetchAll(SessionRecord.self, where: "status", equals: SessionRecord.Status.started.rawValue)
        guard let session = started.max(by: { ($0.startedAt ?? $0.committedAt) < ($1.startedAt ?? $1.committedAt) }),
              running == nil, session.sessionConfig.modelId != nil
        else { return }
        for var other in started where other.sessionId != session.sessionId {
            other.status = .failed
            other.updatedAt = Date()
            try store.save(other)
        }
        logger.warning("resuming interrupted session", metadata: ["session": "\(session.name)"])
        let run = try store.fetchAll(RunRecord.self, where: "session_id", equals: session.sessionId).filter { $0.completedAt == nil }
            .max { $0.committedAt < $1.committedAt }
        let options = RoundRunner.RunOptions(modelNamePrefix: run?.modelNamePrefix, clientIds: run?.clientIds?.split(separator: ",").map(String.init))
        running = (session.sessionId, run?.runId, Task { await self.runRounds(session, options: options) })
    }

    /// Stops the running session after its current round's bounded wait.
    func stop(sessionId: String) throws -> Bool {
        guard let running, running.id == sessionId else { return false }
        running.task.cancel()
        note("SESSION_STOP_REQUESTED", "stop requested; the session ends after the current round", session: sessionId, level: "WARNING")
        return true
    }

    /// Records a status event from the controller (and logs failures to do so).
    func note(_ type: String, _ text: String, session: String?, round: Int? = nil, level: String = "INFO", correlationId: String? = nil, data: String? = nil) {
        let event = StatusRecord(status: text, logLevel: level, type: type, sessionId: session, roundNumber: round, sender: .controller,
                                 correlationId: correlationId, data: data)
        do { try store.insert(event) } catch { logger.error("could not record status event", metadata: ["type": "\(type)", "error": "\(error)"]) }
    }

    private func runRounds(_ initial: SessionRecord, options: RoundRunner.RunOptions) async {
        var session = initial
        var modelId = session.sessionConfig.modelId!
        do {
            // Resume where the rounds stand: an interrupted round (not Finished or Failed) is
            // run again from the model of the last finished round.
            let existing = try store.fetchAll(RoundRecord.self, where: "session_id", equals: session.sessionId)
            let ended = existing.filter { $0.status == .completed || $0.status == .failed }
            let interrupted = existing.filter { $0.status != .completed && $0.status != .failed }.map(\.roundNumber).min()
            let first = interrupted ?? (ended.map(\.roundNumber).max() ?? 0) + 1
            if let last = ended.filter({ $0.status == .completed && $0.roundNumber < first }).max(by: { $0.roundNumber < $1.roundNumber }),
               let out = last.modelOut {
                modelId = out
            }
            var number = first
            while number <= session.sessionConfig.rounds && !Task.isCancelled {
                defer { number += 1 }
                events.publish("round_started", ["session_id": session.sessionId, "experiment_id": session.name, "round": number])
                let round = try await runner.run(session: session, number: number, modelIn: modelId, options: options)
                publishCompleted(round, session: session)
                if let out = round.modelOut {
                    modelId = out
                    session.sessionConfig.modelId = out
                    session.updatedAt = Date()
                    try store.save(session)
                }
            }
            session.status = Task.isCancelled ? .terminated : .finished
        } catch {
            logger.error("session failed", metadata: ["session": "\(session.name)", "error": "\(error)"])
            session.status = .failed
        }
        session.finishedAt = Date()
        session.updatedAt = Date()
        try? store.save(session)
        if let runId = running?.runId, var run = try? store.fetch(RunRecord.self, id: runId) {
            run.status = session.status.rawValue
            run.completedAt = session.finishedAt
            run.completedAtModelId = modelId
            run.updatedAt = Date()
            try? store.save(run)
        }
        logger.info("session ended", metadata: ["session": "\(session.name)", "status": "\(session.status.rawValue)"])
        note("SESSION_\(session.status.rawValue.uppercased())", "session \(session.name) ended: \(session.status.rawValue)",
             session: session.sessionId, level: session.status == .failed ? "ERROR" : "INFO")
        events.publish("session_completed", ["session_id": session.sessionId, "experiment_id": session.name, "status": session.status.rawValue])
        running = nil
    }

    /// `round_completed` in the shape of seeds/003: global metrics, participants, duration.
    private func publishCompleted(_ round: RoundRecord, session: SessionRecord) {
        let clients = round.combiners.reduce(0) { $0 + $1.clients.count }
        let duration = round.finishedAt.map { $0.timeIntervalSince(round.committedAt) } ?? 0
        var fields: [String: any Sendable] = [
            "session_id": session.sessionId, "experiment_id": session.name, "round": round.roundNumber, "status": round.status.rawValue,
            "global_metrics": round.roundData.validation, "train_metrics": round.roundData.trainMetrics,
            "participating_clients": clients, "round_duration": duration,
        ]
        if let model = round.modelOut { fields["model_id"] = model }
        if let error = round.error { fields["error"] = error }
        events.publish("round_completed", fields)
        let failed = round.status == .failed
        note(failed ? "ROUND_FAILED" : "ROUND_COMPLETED",
             failed ? "round \(round.roundNumber) failed: \(round.error ?? "")" : "round \(round.roundNumber) completed with \(clients) clients",
             session: session.sessionId, round: round.roundNumber, level: failed ? "ERROR" : "INFO",
             data: jsonText(["model_id": round.modelOut ?? "", "round_id": round.roundId]))
        Counter(label: "tributary_rounds_total", dimensions: [("status", round.status.rawValue.lowercased())]).increment()
        Metrics.Timer(label: "tributary_round_duration_seconds", preferredDisplayUnit: .seconds).recordSeconds(duration)
        if let reduce = round.roundData.timeReduce {
            Metrics.Timer(label: "tributary_aggregation_seconds", preferredDisplayUnit: .seconds).recordSeconds(reduce)
        }
    }
}
