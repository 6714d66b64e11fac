import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// The FL Framework API (seed `003_…`: status, clients, training, models, metrics,
/// experiments, policy-aware selection) at its own base URL, `/fl/api/v1` — its paths collide
/// with the Scaleout Edge ones at `/api/v1`. A thin layer over the domain core: experiments
/// are sessions (`SessionManager`), its clients are HTTP participants whose updates the
/// `HTTPCohort` folds into the same rounds as nng clients', and every number it reports is
/// read from the same store.
struct FLFrameworkAPI: Sendable {
    /// Where the API is mounted; its clients take `server_url` = the controller's URL + `/fl`
    /// and append `/api/v1` themselves.
    static let mountPoint = "/fl"
    static let base = mountPoint + "/api/v1"
    static let version = "1.0.0"

    let store: Store
    let sessions: SessionManager
    let registry: NetworkRegistry
    let cohort: HTTPCohort
    let participants: HTTPParticipants
    let events: EventHub
    let limiter: FLRateLimiter
    let startedAt = Date()

    func register<Context: RequestContext>(on router: Router<Context>) {
        // The rate limiter is outermost, so its headers go on error answers too.
        let api = router.group(RouterPath(Self.base))
            .add(middleware: FLRateLimitMiddleware(limiter: limiter, base: Self.base))
            .add(middleware: FLErrorMiddleware())
        registerStatus(on: api)
        registerClients(on: api)
        registerTraining(on: api)
        registerModels(on: api)
        registerMetrics(on: api)
        registerExperiments(on: api)
    }

    private func registerStatus<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("status") { _, _ in
            let session = try await currentSession()
            let rounds = try session.map { try finishedRounds(of: $0.sessionId) } ?? []
            let definition = try session.flatMap { try experimentDefinition($0.sessionId) } ?? [:]
            let running = await sessions.runningSessionId
            let active = try await activeParticipantIds()
            return try APIResponse.object([
                "status": running != nil ? "running" : "idle", "version": Self.version,
                "current_round": rounds.last?.roundNumber ?? 0, "total_rounds": session?.sessionConfig.rounds ?? 0,
                "active_clients": active.count, "registered_clients": try participants.all().count + (await store.database.read { db in try ClientRecord.fetchCount(db) }),
                "experiment_id": session?.sessionId ?? NSNull(),
                "model_config": definition["model_config"] ?? [:], "training_config": trainingConfig(session, definition),
                "timestamp": FLFormat.now(),
            ])
        }
        api.get("health") { _, _ in
            let uptime = Date().timeIntervalSince(startedAt)
            let usage = ProcessUsage.current()
            return try APIResponse.object([
                "status": "healthy", "timestamp": FLFormat.now(), "uptime": Int(uptime),
                "memory_usage": "\(usage.residentBytes >> 20)MB", "memory_bytes": usage.residentBytes,
                "cpu_usage": String(format: "%.1f%%", uptime > 0 ? 100 * usage.cpuSeconds / uptime : 0), "cpu_seconds": usage.cpuSeconds,
            ])
        }
    }

    // MARK: shared reads

    /// The running session, else the one started last, else the one created last.
    func currentSession() async throws -> SessionRecord? {
        if let id = await sessions.runningSessionId, let running = try store.fetch(SessionRecord.self, id: id) { return running }
        return try await store.database.read { db in
            try SessionRecord.order(sql: "COALESCE(started_at, committed_at) DESC").fetchOne(db)
        }
    }

    /// The experiment named in a request, else the current one; a 404 for an unknown id.
    func experiment(_ id: String?) async throws -> SessionRecord? {
        guard let id else { return try await currentSession() }
        guard let session = try store.fetch(SessionRecord.self, id: id) else { throw FLError.notFound("experiment '\(id)' does not exist") }
        return session
    }

    func finishedRounds(of sessionId: String) throws -> [RoundRecord] {
        try store.fetchAll(RoundRecord.self, where: "session_id", equals: sessionId)
            .filter { $0.status == .completed }.sorted { $0.roundNumber < $1.roundNumber }
    }

    func experimentDefinition(_ sessionId: String) throws -> [String: Any]? {
        guard let record = try store.fetch(ExperimentRecord.self, id: sessionId) else { return nil }
        return try JSONSerialization.jsonObject(with: Data(record.definition.utf8)) as? [String: Any]
    }

    /// The training settings an experiment runs with, over what its definition gave.
    func trainingConfig(_ session: SessionRecord?, _ definition: [String: Any]) -> [String: Any] {
        var config = definition["training_config"] as? [String: Any] ?? [:]
        guard let session else { return config }
        let c = session.sessionConfig
        config["rounds"] = c.rounds
        config["local_epochs"] = c.training.localEpochs
        config["batch_size"] = c.training.batchSize
        config["learning_rate"] = c.training.learningRate
        config["min_clients"] = max(c.clientsRequired, c.policy?.minClients ?? 1)
        return config
    }

    /// nng clients online and HTTP participants active.
    func activeParticipantIds() async throws -> Set<String> {
        await registry.onlineClientIds().union(try participants.activeIds())
    }

    /// FL-framework status of an experiment.
    static func status(_ session: SessionRecord, running: Bool) -> String {
        switch session.status {
        case .created: "created"
        case .started: running ? "running" : "interrupted"
        case .finished: "completed"
        case .failed: "failed"
        case .terminated: "stopped"
        }
    }

    /// A client's own metrics under the API's names (Tributary trainers report `train_loss`,
    /// `accuracy`; FL-framework clients `local_loss`, `local_accuracy`).
    static func clientMetrics(_ row: ParticipationRecord) -> [String: Any] {
        let m = row.metrics
        return [
            "local_accuracy": (m["local_accuracy"] ?? m["accuracy"] ?? m["train_accuracy"]).map { $0 as Any } ?? NSNull(),
            "local_loss": (m["local_loss"] ?? m["train_loss"] ?? m["loss"]).map { $0 as Any } ?? NSNull(),
            "training_time": m["training_time"] ?? NSNull(), "data_samples": row.numExamples,
        ]
    }
}

/// This process's resident memory and CPU time, from the kernel.
struct ProcessUsage {
    var residentBytes: Int
    var cpuSeconds: Double

    static func current() -> ProcessUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        // VmRSS from /proc (Linux); ru_maxrss is the peak, not the current size.
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } }.map { $0 * 1024 } ?? usage.ru_maxrss * 1024
        return ProcessUsage(residentBytes: rss, cpuSeconds: cpu)
    }
}
