import Foundation
import GRDB
import Hummingbird
import TributaryModel
import TributaryStore

/// Training rounds (seed `000_…`): a device round is one round of the network — a one-round
/// session whose HTTP cohort takes the selected devices (beside any nng clients), so a device
/// update gets the checks and the weighted fold every update gets.
///
/// Status: pending (recorded, not yet collecting) → active (collecting) → aggregating →
/// completed, or failed (e.g. fewer than `min_devices` updates by `timeout_at`).
extension DeviceAPI {
    func registerRounds<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("training/rounds/current") { request, _ in
            try await admit(try authenticatedDevice(request))
            let latest = try await store.database.read { db in try RoundRecord.order(sql: "committed_at DESC").fetchOne(db) }
            guard let latest else { throw DeviceError.notFound("no training round has been created yet") }
            return try APIResponse.object(try await roundBody(latest))
        }
        api.get("training/rounds/:id/status") { request, context in
            try await admit(try authenticatedDevice(request))
            let id = try context.parameters.require("id")
            guard let round = try store.fetch(RoundRecord.self, id: id) else { throw DeviceError.notFound("round '\(id)' does not exist") }
            return try APIResponse.object(try await roundBody(round))
        }
        api.post("training/rounds/start") { request, _ in try await startRound(request) }
        // The models a round's paths point at, as .npz (`?format=native` for Tributary's own).
        api.get("training/rounds/:id/global-model") { request, context in
            try await admit(try authenticatedDevice(request))
            return try roundModel(request, try context.parameters.require("id"), aggregated: false)
        }
        api.get("training/rounds/:id/aggregated-model") { request, context in
            try await admit(try authenticatedDevice(request))
            return try roundModel(request, try context.parameters.require("id"), aggregated: true)
        }
        api.post("training/rounds/:id/updates") { request, context in
            try await submitUpdate(request, roundId: try context.parameters.require("id"))
        }
    }

    private func startRound(_ request: Request) async throws -> Response {
        let body = try await request.bodyObject(allowEmpty: false)
        guard let target = try body.integer("target_devices"), target >= 1 else { throw DeviceError.badRequest("field 'target_devices' is required: an integer of at least 1") }
        guard let minimum = try body.integer("min_devices"), minimum >= 1, minimum <= target else {
            throw DeviceError.badRequest("field 'min_devices' is required: an integer from 1 to target_devices (\(target))")
        }
        let timeout = try body.integer("timeout_seconds") ?? 300
        guard (60...3600).contains(timeout) else { throw DeviceError.badRequest("field 'timeout_seconds' must be between 60 and 3600, got \(timeout)") }
        let model = try body.string("global_model_id") ?? store.latestModelId()
        guard let model else { throw DeviceError.badRequest("field 'global_model_id': no model is stored yet") }
        guard try store.fetch(ModelRecord.self, id: model) != nil else { throw DeviceError.badRequest("field 'global_model_id': model '\(model)' does not exist") }
        if let running = await sessions.runningSessionId {
            throw DeviceError(status: .conflict, message: "a training round is already in progress (session '\(running)')")
        }
        var config = SessionConfig()
        config.rounds = 1
        config.roundTimeout = Double(timeout)
        config.clientsRequired = minimum
        config.requestedClients = target
        config.modelId = model
        let id = Store.newId()
        let session = SessionRecord(sessionId: id, name: "device-round-\(id.prefix(8))", seedModelId: model, config: config)
        try store.insert(session)
        do {
            _ = try await sessions.start(sessionId: id, options: .init(requireAvailable: false))
        } catch {
            try store.delete(SessionRecord.self, id: id)
            throw DeviceError(status: .conflict, message: "\(error)")
        }
        // The round row exists as soon as the session's task records it.
        let roundId = "\(id)-r1"
        for _ in 0..<50 where try store.fetch(RoundRecord.self, id: roundId) == nil { try await Task.sleep(for: .milliseconds(20)) }
        guard let round = try store.fetch(RoundRecord.self, id: roundId) else { throw DeviceError(status: .internalServerError, message: "the round did not start") }
        return try APIResponse.object(try await roundBody(round), status: .created)
    }

    private func submitUpdate(_ request: Request, roundId: String) async throws -> Response {
        let device = try authenticatedDevice(request)
        try await admit(device)
        guard let round = try store.fetch(RoundRecord.self, id: roundId) else { throw DeviceError.notFound("round '\(roundId)' does not exist") }
        guard let open = await cohort.openRound, open.order.sessionId == round.sessionId, open.order.round == round.roundNumber else {
            throw DeviceError(status: .conflict, message: "round '\(roundId)' is not accepting updates (status \(Self.status(round, open: false)))")
        }
        let buffer = try await request.body.collect(upTo: ModelRoutes.maxUploadBytes)
        let form = try MultipartForm(buffer: buffer, contentType: request.headers[.contentType] ?? "")
        guard let file = form.files["file"] else { throw DeviceError.badRequest("multipart field 'file' is required") }
        guard let samplesText = form.fields["num_samples"], let samples = Int(samplesText), samples > 0 else {
            throw DeviceError.badRequest("field 'num_samples' is required: a positive integer")
        }
        var metrics: [String: Double] = ["num_samples": Double(samples)]
        for key in ["local_loss", "local_accuracy", "training_time_seconds"] {
            guard let text = form.fields[key] else { continue }
            guard let value = Double(text), value.isFinite else { throw DeviceError.badRequest("field '\(key)' must be a number, got '\(text)'") }
            metrics[key] = value
        }
        let update: Model
        do {
            // A single .npy array is one tensor named after the file (NumPy's own default otherwise).
            let stem = file.filename.map { ($0 as NSString).deletingPathExtension } ?? ""
            update = try ModelRoutes.decodeModel(file.bytes, npyArrayName: stem.isEmpty ? "arr_0" : stem)
        } catch {
            throw DeviceError.badRequest("field 'file' is not a model in a format this server reads (.npz, .npy, native): \(error)")
        }
        let result = await submit(device, update: update, samples: samples, metrics: metrics)
        if let refusal = result { throw Self.error(for: refusal, device: device.deviceIdentifier, round: roundId) }
        var out: [String: Any] = [
            "id": Store.newId(), "round_id": roundId, "device_id": device.id, "device_identifier": device.deviceIdentifier,
            "model_size_bytes": update.spec.totalBytes, "num_samples": samples, "created_at": FLFormat.now(), "model_path": NSNull(),
        ]
        for key in ["local_loss", "local_accuracy", "training_time_seconds"] { out[key] = metrics[key] as Any? ?? NSNull() }
        return try APIResponse.object(out, status: .created)
    }

    private func roundModel(_ request: Request, _ id: String, aggregated: Bool) throws -> Response {
        guard let round = try store.fetch(RoundRecord.self, id: id) else { throw DeviceError.notFound("round '\(id)' does not exist") }
        guard let modelId = aggregated ? round.modelOut : round.modelIn, let record = try store.fetch(ModelRecord.self, id: modelId) else {
            throw DeviceError.notFound("round '\(id)' has no aggregated model yet")
        }
        let format = request.query("format") ?? "npz"
        guard ["npz", "native"].contains(format) else { throw DeviceError.badRequest("format '\(format)' is not served: npz or native") }
        return try ModelRoutes.download(record, format: format, store: store)
    }

    /// The cohort's refusal, if any (nil: folded in).
    private func submit(_ device: DeviceRecord, update: Model, samples: Int, metrics: [String: Double]) async -> HTTPCohort.Refusal? {
        do {
            _ = try await cohort.submit(clientId: device.deviceIdentifier, update: update, weight: Double(samples), metrics: metrics)
            return nil
        } catch {
            return error
        }
    }

    static func error(for refusal: HTTPCohort.Refusal, device: String, round: String) -> DeviceError {
        switch refusal {
        case .noActiveRound: DeviceError(status: .conflict, message: "round '\(round)' is not accepting updates")
        case .notSelected: DeviceError(status: .conflict, message: "device '\(device)' is not selected for round '\(round)'")
        case .alreadyAnswered: DeviceError(status: .conflict, message: "device '\(device)' already submitted an update for round '\(round)'")
        case .invalid(let reason): DeviceError.badRequest("the update was refused: \(reason)")
        }
    }

    /// A round in the seed's shape, with the `config` the SDKs read.
    func roundBody(_ round: RoundRecord) async throws -> [String: Any] {
        let open = await cohort.openRound.flatMap { $0.order.sessionId == round.sessionId && $0.order.round == round.roundNumber ? $0 : nil }
        let session = try store.fetch(SessionRecord.self, id: round.sessionId)
        let rows = try await store.database.read { db in
            try ParticipationRecord.filter(sql: "session_id = ? AND round_number = ?", arguments: [round.sessionId, round.roundNumber]).fetchAll(db)
        }
        let completed = open.map { $0.selected.count - $0.pending.count } ?? rows.filter { $0.outcome == .accepted }.count
        let failed = rows.filter { $0.outcome != .accepted }.count
        let timeout = session?.sessionConfig.roundTimeout ?? 0
        let modelURL = { (kind: String) in "\(DeviceAPI.base)/training/rounds/\(round.roundId)/\(kind)" }
        return [
            "id": round.roundId, "round_number": round.roundNumber, "status": Self.status(round, open: open != nil),
            "target_devices": session?.sessionConfig.requestedClients ?? open?.selected.count ?? 0,
            "min_devices": session?.sessionConfig.clientsRequired ?? 1,
            "participated_devices": open?.selected.count ?? rows.count, "completed_devices": completed, "failed_devices": failed,
            "global_model_path": modelURL("global-model"), "aggregated_model_path": round.modelOut.map { _ in modelURL("aggregated-model") } as Any? ?? NSNull(),
            "started_at": FLFormat.date(round.committedAt), "completed_at": FLFormat.date(round.finishedAt),
            "timeout_at": FLFormat.date(round.committedAt.addingTimeInterval(timeout)), "created_at": FLFormat.date(round.committedAt),
            "error": round.error as Any? ?? NSNull(),
            "config": ["model_id": round.modelIn, "version": round.roundNumber, "proximal_mu": session?.sessionConfig.training.proximalMu as Any? ?? NSNull(),
                       "clip_norm": NSNull(), "filters": [String](), "secure_aggregation": false],
            "model_id": round.modelIn, "version": round.roundNumber,
        ]
    }

    static func status(_ round: RoundRecord, open: Bool) -> String {
        switch round.status {
        case .pending: "pending"
        case .running: open ? "active" : "pending"
        case .aggregating, .validating: "aggregating"
        case .completed: "completed"
        case .failed: "failed"
        }
    }
}
