import Foundation
import Logging
import Metrics
import TributaryStore

/// Starts and stops sessions; at most one runs at a time. A session runs its rounds in a
/// task of its own: round after round from its current model, until the round count is
/// reached or it is stopped.
actor SessionManager {
    enum StartError: Error, CustomStringConvertible {
        case notFound(String), alreadyRunning, notEnoughClients(Int, Int), noSeedModel, finished(String)
        var description: String {
            switch self {
            case .notFound(let id): "Session with specified ID does not exist: \(id)"
            case .alreadyRunning: "A session is already running!"
            case .notEnoughClients(let have, let need): "Number of available clients (\(have)) is lower than the required minimum of \(need)"
            case .noSeedModel: "Session seed model not found"
            case .finished(let status): "Session has already ended (\(status))"
            }
        }
    }

    private let store: Store
    private let registry: NetworkRegistry
    private let runner: RoundRunner
    private let logger: Logger
    private let events: EventHub
    private var running: (id: String, task: Task<Void, Never>)?

    init(store: Store, registry: NetworkRegistry, runner: RoundRunner, events: EventHub = EventHub(), logger: Logger) {
        self.store = store
        self.registry = registry
        self.runner = runner
        self.events = events
        self.logger = logger
    }

    var runningSessionId: String? { running?.id }

    /// Checks and starts a session; `rounds` and `roundTimeout` override its config.
    func start(sessionId: String, rounds: Int?, roundTimeout: Double?) async throws -> SessionRecord {
        guard running == nil else { throw StartError.alreadyRunning }
        guard var session = try store.fetch(SessionRecord.self, id: sessionId) else { throw StartError.notFound(sessionId) }
        guard session.status == .created || session.status == .started else { throw StartError.finished(session.status.rawValue) }
        if let rounds { session.sessionConfig.rounds = rounds }
        if let roundTimeout { session.sessionConfig.roundTimeout = roundTimeout }
        let available = await registry.onlineClientCount()
        guard available >= session.sessionConfig.clientsRequired else {
            throw StartError.notEnoughClients(available, session.sessionConfig.clientsRequired)
        }
        let model = session.sessionConfig.modelId ?? session.seedModelId
        guard let model, try store.fetch(ModelRecord.self, id: model) != nil else { throw StartError.noSeedModel }
        session.sessionConfig.modelId = model
        session.status = .started
        session.startedAt = session.startedAt ?? Date()
        session.updatedAt = Date()
        try store.save(session)
        let started = session
        running = (sessionId, Task { await self.runRounds(started) })
        events.publish("session_started", ["session_id": sessionId, "experiment_id": session.name, "rounds": session.sessionConfig.rounds])
        return session
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
        running = (session.sessionId, Task { await self.runRounds(session) })
    }

    /// Stops the running session after its current round's bounded wait.
    func stop(sessionId: String) throws -> Bool {
        guard let running, running.id == sessionId else { return false }
        running.task.cancel()
        return true
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
        Counter(label: "tributary_rounds_total", dimensions: [("status", round.status.rawValue.lowercased())]).increment()
        Metrics.Timer(label: "tributary_round_duration_seconds", preferredDisplayUnit: .seconds).recordSeconds(duration)
        if let reduce = round.roundData.timeReduce {
            Metrics.Timer(label: "tributary_aggregation_seconds", preferredDisplayUnit: .seconds).recordSeconds(reduce)
        }
    }

    private func runRounds(_ initial: SessionRecord) async {
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
                let round = try await runner.run(session: session, number: number, modelIn: modelId)
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
        logger.info("session ended", metadata: ["session": "\(session.name)", "status": "\(session.status.rawValue)"])
        events.publish("session_completed", ["session_id": session.sessionId, "experiment_id": session.name, "status": session.status.rawValue])
        running = nil
    }
}
