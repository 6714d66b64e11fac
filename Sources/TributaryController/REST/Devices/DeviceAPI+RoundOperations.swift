import Foundation
import TributarySecAgg
import GRDB
import Hummingbird
import TributaryStore

/// Training operations (seed `001_…`): create a round (pending) → select devices by criteria
/// → start it; or `POST /training/rounds/start`, which does all three with every online
/// device. Cancel ends a round at once: devices learn it on their next heartbeat, and what was
/// aggregated so far is discarded. List, and a lightweight progress snapshot for polling.
extension DeviceAPI {
    func registerRoundOperations<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("training/rounds") { request, _ in try await listRounds(request) }
        api.post("training/rounds") { request, _ in
            _ = try await requireOperator(request)
            let round = try createRound(try await request.bodyObject(allowEmpty: false))
            return try APIResponse.object(try await roundBody(round), status: .created)
        }
        api.post("training/rounds/start") { request, _ in
            _ = try await requireOperator(request)
            let round = try createRound(try await request.bodyObject(allowEmpty: false))
            do { return try APIResponse.object(try await roundBody(try await start(round)), status: .created) } catch {
                _ = try? store.delete(SessionRecord.self, id: round.session.sessionId)
                throw error
            }
        }
        api.post("training/rounds/:id/select") { request, context in
            let principal = try await requireOperator(request)
            return try await select(try requireRound(try context.parameters.require("id")), criteria: try await request.bodyObject(), org: principal.orgScope)
        }
        api.post("training/rounds/:id/start") { request, context in
            _ = try await requireOperator(request)
            let round = try requireRound(try context.parameters.require("id"))
            return try APIResponse.object(try await roundBody(try await start(round)))
        }
        api.post("training/rounds/:id/cancel") { request, context in
            _ = try await requireOperator(request)
            return try APIResponse.object(try await roundBody(try await cancel(try requireRound(try context.parameters.require("id")))))
        }
        api.get("training/rounds/:id/progress") { request, context in
            _ = try await caller(request)
            return try APIResponse.object(try await progress(try requireRound(try context.parameters.require("id"))))
        }
    }

    /// A pending device round from `target_devices`, `min_devices`, `timeout_seconds` and
    /// `global_model_id` (default: the newest model); 400 naming a bad field.
    private func createRound(_ body: [String: Any]) throws -> DeviceRound {
        guard let target = try body.integer("target_devices"), target >= 1 else { throw DeviceError.badRequest("field 'target_devices' is required: an integer of at least 1") }
        guard let minimum = try body.integer("min_devices"), minimum >= 1, minimum <= target else {
            throw DeviceError.badRequest("field 'min_devices' is required: an integer from 1 to target_devices (\(target))")
        }
        let timeout = try body.integer("timeout_seconds") ?? 300
        guard roundTimeoutRange.contains(timeout) else {
            throw DeviceError.badRequest("field 'timeout_seconds' must be between \(roundTimeoutRange.lowerBound) and \(roundTimeoutRange.upperBound), got \(timeout)")
        }
        let model = try body.string("global_model_id") ?? body.string("model_id") ?? store.latestModelId()
        guard let model else { throw DeviceError.badRequest("field 'global_model_id': no model is stored yet") }
        guard try store.fetch(ModelRecord.self, id: model) != nil else { throw DeviceError.badRequest("field 'global_model_id': model '\(model)' does not exist") }
        var config = SessionConfig()
        config.rounds = 1
        config.roundTimeout = Double(timeout)
        config.clientsRequired = minimum
        config.requestedClients = target
        config.modelId = model
        config.validate = false
        if let aggregator = try body.string("aggregator") ?? body.string("strategy") { config.aggregator = aggregator }
        // `secure_aggregation`: the SecAgg+ parameters (an object; {} for the defaults), as in a session_config.
        if let secure = body["secure_aggregation"] {
            guard JSONSerialization.isValidJSONObject(secure), let data = try? JSONSerialization.data(withJSONObject: secure),
                  let parsed = try? JSONDecoder().decode(SecAggConfig.self, from: data) else {
                throw DeviceError.badRequest("field 'secure_aggregation' must be an object of SecAgg+ parameters")
            }
            config.secureAggregation = parsed
        }
        if let invalid = config.invalidField() { throw DeviceError.badRequest("field '\(invalid.field)': \(invalid.reason)") }
        let id = Store.newId()
        let session = SessionRecord(sessionId: id, name: DeviceRound.namePrefix + id.prefix(8), seedModelId: model, config: config)
        try store.insert(session)
        return DeviceRound(session: session, round: nil)
    }

    /// Devices of the caller's org matching `platform`, `status` (default online), the
    /// `capabilities` keys (a list of keys that must be present, or an object of required
    /// values) and `device_ids`; a random sample of at most `target_devices` of them.
    private func select(_ round: DeviceRound, criteria: [String: Any], org: String?) async throws -> Response {
        guard round.round == nil, round.session.status == .created else {
            throw DeviceError(status: .conflict, message: "round '\(round.id)' is \(round.status(open: false)): devices are selected only while it is pending")
        }
        let platform = try criteria.string("platform"), status = try criteria.string("status") ?? "online"
        var devices = try await store.database.read { db in try DeviceRecord.order(Column("created_at")).fetchAll(db) }
        if let org { devices = devices.filter { $0.orgId == org } }
        if let platform { devices = devices.filter { $0.platform == platform } }
        devices = devices.filter { liveness($0) == status || $0.reportedStatus == status }
        if let ids = criteria["device_ids"] {
            guard let ids = ids as? [String] else { throw DeviceError.badRequest("field 'device_ids' must be a list of device ids") }
            devices = devices.filter { ids.contains($0.id) || ids.contains($0.deviceIdentifier) }
        }
        if let wanted = criteria["capabilities"], !(wanted is NSNull) {
            devices = try devices.filter { device in
                let has = (try? JSONSerialization.jsonObject(with: Data(device.capabilities.utf8))) as? [String: Any] ?? [:]
                if let keys = wanted as? [String] { return keys.allSatisfy { has[$0] != nil && !(has[$0] is NSNull) } }
                guard let values = wanted as? [String: Any] else { throw DeviceError.badRequest("field 'capabilities' must be a list of keys or an object") }
                return values.allSatisfy { key, value in has[key].map { "\($0)" == "\(value)" } ?? false }
            }
        }
        let cap = round.session.sessionConfig.requestedClients ?? devices.count
        let chosen = devices.count > cap ? Array(devices.shuffled().prefix(cap)) : devices
        var session = round.session
        session.sessionConfig.selectedDevices = chosen.map(\.deviceIdentifier).sorted()
        session.updatedAt = Date()
        try store.save(session)
        var out = try await roundBody(DeviceRound(session: session, round: nil))
        out["selected_devices"] = chosen.map { ["id": $0.id, "device_identifier": $0.deviceIdentifier, "platform": $0.platform] }
        out["selected_count"] = chosen.count
        return try APIResponse.object(out)
    }

    /// Starts a pending (or selected) round; 409 while another round or session runs.
    private func start(_ round: DeviceRound) async throws -> DeviceRound {
        guard round.round == nil, round.session.status == .created else {
            throw DeviceError(status: .conflict, message: "round '\(round.id)' is \(round.status(open: false)): only a pending round can be started")
        }
        if let running = await sessions.runningSessionId {
            throw DeviceError(status: .conflict, message: "a training round is already in progress (session '\(running)')")
        }
        do { _ = try await sessions.start(sessionId: round.session.sessionId, options: .init(requireAvailable: false)) } catch {
            throw DeviceError(status: .conflict, message: "\(error)")
        }
        // The round row exists as soon as the session's task records it.
        for _ in 0..<100 {
            if let started = try resolveRound(round.id), started.round != nil { return started }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw DeviceError(status: .internalServerError, message: "round '\(round.id)' did not start")
    }

    private func cancel(_ round: DeviceRound) async throws -> DeviceRound {
        guard !round.isFinished else {
            throw DeviceError(status: .conflict, message: "round '\(round.id)' is \(round.status(open: false)) and can no longer be cancelled")
        }
        if round.round == nil {
            var session = round.session
            session.status = .terminated
            session.finishedAt = Date()
            session.updatedAt = Date()
            try store.save(session)
        } else {
            _ = await sessions.cancelRound(sessionId: round.session.sessionId)
            // The round is recorded as cancelled once the runner has discarded it.
            for _ in 0..<250 {
                if let now = try resolveRound(round.id), now.isFinished, await sessions.runningSessionId != round.session.sessionId { return now }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return try requireRound(round.id)
    }

    /// `GET /training/rounds?status=&device_id=&model_id=&limit=` → `{rounds, total}`, newest
    /// first; `device_id` keeps the rounds that selected that device (the SDK's assignment query).
    private func listRounds(_ request: Request) async throws -> Response {
        let principal = try await caller(request)
        let limit = try Self.integer(request, "limit", default: 100, range: 1...1000)
        let wantedStatus = request.query("status") ?? request.query("state")
        var device: DeviceRecord?
        if let named = request.query("device_id") { device = try actingDevice(principal, named: named) }
        let (sessions, records) = try await store.database.read { db in
            (try SessionRecord.order(sql: "committed_at DESC").fetchAll(db), try RoundRecord.order(sql: "round_number DESC").fetchAll(db))
        }
        let bySession = Dictionary(grouping: records, by: \.sessionId)
        var rounds: [DeviceRound] = []
        for session in sessions {
            let own = bySession[session.sessionId] ?? []
            if own.isEmpty, session.name.hasPrefix(DeviceRound.namePrefix) { rounds.append(DeviceRound(session: session, round: nil)) }
            rounds += own.map { DeviceRound(session: session, round: $0) }
        }
        var bodies: [[String: Any]] = []
        for round in rounds where bodies.count < limit {
            if let modelId = request.query("model_id"), (round.round?.modelIn ?? round.session.sessionConfig.modelId) != modelId { continue }
            let open = await openCohort(for: round) != nil
            if let wantedStatus, round.status(open: open) != wantedStatus { continue }
            if let device, !(try await selectedDevices(round).contains(device.deviceIdentifier)) { continue }
            bodies.append(try await roundBody(round))
        }
        return try APIResponse.object(["rounds": bodies, "total": bodies.count])
    }

    private func progress(_ round: DeviceRound) async throws -> [String: Any] {
        let body = try await roundBody(round)
        let open = await openCohort(for: round)
        let deadline = round.round.map { $0.committedAt.addingTimeInterval(round.session.sessionConfig.roundTimeout) }
        return [
            "round_id": round.id, "status": body["status"] as Any, "selected_devices": body["participated_devices"] as Any,
            "received_updates": body["completed_devices"] as Any, "failed_devices": body["failed_devices"] as Any,
            "min_devices": body["min_devices"] as Any, "pending_devices": open?.pending.count ?? 0,
            "deadline": FLFormat.date(deadline), "seconds_remaining": deadline.map { max(0, $0.timeIntervalSinceNow) } as Any? ?? NSNull(),
        ]
    }
}
