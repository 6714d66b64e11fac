import Foundation
import GRDB
import Hummingbird
import TributaryModel
import TributaryStore

/// `POST /training/start`, `POST /training/stop`, `GET /training/status`, and experiments
/// (`POST /experiments`, `GET /experiments`). An experiment is a session: its definition is
/// kept (`experiment` rows), its policy becomes the session's `policy`, its strategy the
/// session's aggregator.
extension FLFrameworkAPI {
    func registerTraining<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.post("training/start") { request, _ in
            let body = try await request.bodyObject()
            if let running = await sessions.runningSessionId {
                throw FLError(.conflict, "TRAINING_ALREADY_RUNNING", "Cannot start - training already in progress", details: "experiment '\(running)' is running")
            }
            let experimentConfig = try Self.object(body, "experiment_config")
            var created = false
            var session: SessionRecord
            if let id = experimentConfig["experiment_id"] as? String, let existing = try store.fetch(SessionRecord.self, id: id) {
                guard existing.status == .created else {
                    throw FLError(.conflict, "CONFLICT", "Resource already exists", details: "experiment '\(id)' already ran (\(existing.status.rawValue)); give a new experiment_id")
                }
                session = existing
            } else {
                session = try createExperiment(body, id: experimentConfig["experiment_id"])
                created = true
            }
            do {
                (session, _) = try await sessions.start(sessionId: session.sessionId)
            } catch let error as SessionManager.StartError {
                if created { try store.delete(SessionRecord.self, id: session.sessionId); try store.delete(ExperimentRecord.self, id: session.sessionId) }
                switch error {
                case .alreadyRunning: throw FLError(.conflict, "TRAINING_ALREADY_RUNNING", "Cannot start - training already in progress", details: error.description)
                case .notEnoughClients: throw FLError(.conflict, "INSUFFICIENT_CLIENTS", "Not enough clients for training", details: error.description)
                default: throw FLError.invalid(error.description)
                }
            }
            let c = session.sessionConfig
            let selected = ParticipantScoresSelection(api: self, policy: c.policy)
            return try APIResponse.object([
                "experiment_id": session.sessionId, "status": "started", "start_time": FLFormat.date(session.startedAt),
                "total_rounds": c.rounds, "current_round": 1, "selected_clients": try await selected.ids(),
                "estimated_duration": "at most \(Int((Double(c.rounds) * c.roundTimeout / 60).rounded(.up))) minutes (rounds × round_timeout)",
            ], status: .created)
        }
        api.post("training/stop") { request, _ in
            let body = try await request.bodyObject()
            guard let running = await sessions.runningSessionId else { throw FLError.experimentNotActive() }
            if let id = try body.string("experiment_id"), id != running {
                throw FLError.experimentNotActive("experiment '\(id)' is not running ('\(running)' is)")
            }
            let reason = try body.string("reason") ?? "manual_stop"
            _ = try await sessions.stop(sessionId: running)
            return try APIResponse.object(["experiment_id": running, "status": "stopping", "reason": reason, "timestamp": FLFormat.now(),
                                           "message": "the experiment stops after its current round's bounded wait"])
        }
        api.get("training/status") { _, _ in
            guard let session = try await currentSession() else {
                return try APIResponse.object(["status": "idle", "experiment_id": NSNull(), "current_round": 0, "total_rounds": 0, "progress": 0,
                                               "selected_clients": [String](), "round_metrics": [:]])
            }
            let running = await sessions.runningSessionId == session.sessionId
            let rounds = try finishedRounds(of: session.sessionId)
            let all = try store.fetchAll(RoundRecord.self, where: "session_id", equals: session.sessionId)
            let current = all.map(\.roundNumber).max() ?? 0
            let total = max(session.sessionConfig.rounds, 1)
            let durations = rounds.compactMap { r in r.finishedAt.map { $0.timeIntervalSince(r.committedAt) } }
            let average = durations.isEmpty ? nil : durations.reduce(0, +) / Double(durations.count)
            var metrics: [String: Any] = [:]
            if let last = rounds.last {
                metrics = ["accuracy": last.roundData.validation["accuracy"] ?? NSNull(),
                           "loss": (last.roundData.validation["loss"] ?? last.roundData.trainMetrics["train_loss"]).map { $0 as Any } ?? NSNull(),
                           "round_duration": durations.last ?? NSNull(), "participating_clients": Self.contributors(last).count, "round": last.roundNumber]
            }
            var selected = Array(Self.contributors(rounds.last))
            // The open round's selection whenever its cohort collects (the session may not read as running yet).
            let open = await cohort.openRound.flatMap { $0.order.sessionId == session.sessionId ? $0 : nil }
            if let open { selected = Array(open.selected.union(await registry.onlineClientIds())) }
            return try APIResponse.object([
                "experiment_id": session.sessionId, "status": Self.status(session, running: running), "current_round": current, "total_rounds": total,
                "progress": Double(rounds.count) / Double(total), "start_time": FLFormat.date(session.startedAt),
                "estimated_completion": FLFormat.date(average.flatMap { avg in session.startedAt.map { $0.addingTimeInterval(avg * Double(total)) } }),
                "selected_clients": selected.sorted(), "round_metrics": metrics,
                "accepting_updates": open != nil,
            ])
        }
    }

    func registerExperiments<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.post("experiments") { request, _ in
            let body = try await request.bodyObject(allowEmpty: false)
            let session = try createExperiment(body, id: body["experiment_id"])
            let policy = session.sessionConfig.policy
            return try APIResponse.object([
                "experiment_id": session.sessionId, "name": session.name, "status": "created", "created_at": FLFormat.date(session.committedAt),
                "estimated_duration": "at most \(Int((Double(session.sessionConfig.rounds) * session.sessionConfig.roundTimeout / 60).rounded(.up))) minutes",
                "resource_requirements": ["min_clients": policy?.minClients ?? session.sessionConfig.clientsRequired],
            ], status: .created)
        }
        api.get("experiments") { request, _ in
            let wanted = request.query("status")
            guard wanted == nil || ["created", "running", "completed", "failed", "stopped", "interrupted"].contains(wanted!) else {
                throw FLError.invalid("query parameter 'status' must be created, running, completed, failed or stopped")
            }
            let limit = try request.intQuery("limit", min: 1) ?? 50
            let offset = try request.intQuery("offset") ?? 0
            guard limit <= 1000 else { throw FLError.invalid("query parameter 'limit' must be at most 1000") }
            let running = await sessions.runningSessionId
            let all = try await store.database.read { db in try SessionRecord.order(sql: "committed_at DESC").fetchAll(db) }
            var rows: [[String: Any]] = []
            for session in all {
                let status = Self.status(session, running: session.sessionId == running)
                if let wanted, status != wanted { continue }
                let done = try finishedRounds(of: session.sessionId).count
                rows.append(["experiment_id": session.sessionId, "name": session.name, "status": status, "created_at": FLFormat.date(session.committedAt),
                             "progress": Double(done) / Double(max(session.sessionConfig.rounds, 1)), "total_rounds": session.sessionConfig.rounds])
            }
            let page = Array(rows.dropFirst(offset).prefix(limit))
            return try APIResponse.object(["experiments": page, "total_count": rows.count, "has_more": offset + page.count < rows.count,
                                           "limit": limit, "offset": offset])
        }
    }

    /// A new session from an experiment body (`/experiments` or `/training/start`): its
    /// definition kept, its settings checked — a 400 naming the bad field.
    func createExperiment(_ body: [String: Any], id given: Any?) throws -> SessionRecord {
        let experiment = try Self.object(body, "experiment_config")
        let training = try Self.object(body, "training_config")
        let policyConfig = try Self.object(body, "policy_config")
        let aggregationConfig = try Self.object(body, "aggregation_config")
        let id: String
        if let given {
            guard let text = given as? String, Self.isValidClientId(text) else { throw FLError.invalid("field 'experiment_id' must be 1 to 128 letters, digits, '.', '_', ':' or '-'") }
            guard try store.fetch(SessionRecord.self, id: text) == nil else {
                throw FLError(.conflict, "CONFLICT", "Resource already exists", details: "experiment '\(text)' already exists")
            }
            id = text
        } else {
            id = "exp_" + UUID().uuidString.prefix(8).lowercased()
        }
        var config = SessionConfig()
        config.validate = true
        func number(_ object: [String: Any], _ key: String, _ field: String) throws -> Double? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let n = value as? NSNumber, !n.isJSONBool else { throw FLError.invalid("field '\(field)' must be a number") }
            return n.doubleValue
        }
        func integer(_ object: [String: Any], _ key: String, _ field: String, min: Int) throws -> Int? {
            guard let v = try number(object, key, field) else { return nil }
            guard v == v.rounded(), v >= Double(min), v <= 1_000_000 else { throw FLError.invalid("field '\(field)' must be an integer of at least \(min)") }
            return Int(v)
        }
        if let rounds = try integer(training, "rounds", "training_config.rounds", min: 1) ?? integer(experiment, "rounds", "experiment_config.rounds", min: 1) {
            config.rounds = rounds
        } else {
            config.rounds = 10
        }
        if let epochs = try integer(training, "local_epochs", "training_config.local_epochs", min: 1) { config.training.localEpochs = epochs }
        if let batch = try integer(training, "batch_size", "training_config.batch_size", min: 1) { config.training.batchSize = batch }
        if let rate = try number(training, "learning_rate", "training_config.learning_rate") {
            guard rate > 0, rate.isFinite else { throw FLError.invalid("field 'training_config.learning_rate' must be positive") }
            config.training.learningRate = rate
        }
        if let timeout = try number(experiment, "round_timeout", "experiment_config.round_timeout") {
            guard timeout > 0 else { throw FLError.invalid("field 'experiment_config.round_timeout' must be positive") }
            config.roundTimeout = timeout
        }
        let minClients = try integer(policyConfig, "min_clients", "policy_config.min_clients", min: 1)
            ?? integer(experiment, "min_clients", "experiment_config.min_clients", min: 1)
        let failures = try integer(policyConfig, "max_client_failures", "policy_config.max_client_failures", min: 0)
        let trust = try number(policyConfig, "trust_threshold", "policy_config.trust_threshold")
        if let trust, !(0...1).contains(trust) { throw FLError.invalid("field 'policy_config.trust_threshold' must be between 0 and 1") }
        config.policy = ParticipantPolicy(minClients: minClients, maxClientFailures: failures, trustThreshold: trust)
        if let strategy = aggregationConfig["strategy"] {
            guard let name = strategy as? String else { throw FLError.invalid("field 'aggregation_config.strategy' must be a string") }
            let key = name.lowercased().filter { $0.isLetter || $0.isNumber }
            guard AggregatorKind(rawValue: key) != nil else {
                let known = AggregatorKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw FLError.invalid("field 'aggregation_config.strategy': '\(name)' is not one of \(known) (any case)")
            }
            config.aggregator = key
            if key == "fedprox" { config.aggregatorKwargs = ["proximal_mu": .number(try number(aggregationConfig, "proximal_mu", "aggregation_config.proximal_mu") ?? 0.01)] }
        }
        if let weighted = aggregationConfig["weighted"] {
            guard let flag = weighted as? Bool else { throw FLError.invalid("field 'aggregation_config.weighted' must be a boolean") }
            config.unweighted = !flag
        }
        if let minUpdates = try integer(aggregationConfig, "min_updates", "aggregation_config.min_updates", min: 1) { config.clientsRequired = minUpdates }
        if let bad = config.invalidField() { throw FLError.invalid("invalid field '\(bad.field)': \(bad.reason)") }
        guard let seed = try (experiment["model_id"] as? String) ?? store.latestModelId(), try store.fetch(ModelRecord.self, id: seed) != nil else {
            throw FLError.invalid("no model to start from: store one first (POST /api/v1/models) or name it in experiment_config.model_id")
        }
        config.modelId = seed
        let name = (body["name"] as? String) ?? id
        var session = SessionRecord(sessionId: id, name: name, seedModelId: seed, config: config)
        session.description = body["description"] as? String
        let definition = String(decoding: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), as: UTF8.self)
        do {
            try store.database.write { db in
                try session.insert(db)
                try ExperimentRecord(sessionId: id, definition: definition).insert(db)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw FLError(.conflict, "CONFLICT", "Resource already exists", details: "an experiment or session named '\(name)' already exists")
        }
        return session
    }

    static func object(_ body: [String: Any], _ key: String) throws -> [String: Any] {
        guard let value = body[key], !(value is NSNull) else { return [:] }
        guard let object = value as? [String: Any] else { throw FLError.invalid("field '\(key)' must be an object") }
        return object
    }

    static func contributors(_ round: RoundRecord?) -> Set<String> {
        Set(round?.combiners.flatMap(\.clients) ?? [])
    }
}

/// The clients the next round would select: active participants through the policy.
struct ParticipantScoresSelection {
    let api: FLFrameworkAPI
    let policy: ParticipantPolicy?

    func ids() async throws -> [String] {
        try ParticipantScores(store: api.store).apply(policy, to: Array(try await api.activeParticipantIds())).selected
    }
}
