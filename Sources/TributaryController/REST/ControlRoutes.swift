import Foundation
import Hummingbird
import TributaryStore

/// `/api/v1/control/*`: operate the controller directly — start or stop a session, skip the
/// current barrier (`continue` is its old name), start inference, run a custom command —
/// and `POST /api/v1/predictions/start`.
struct ControlRoutes {
    let store: Store
    let sessions: SessionManager
    let sessionRoutes: SessionRoutes
    let events: EventHub

    func register<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group("/api/v1/control")
        group.post("stop") { _, _ in
            guard let id = await sessions.runningSessionId else { return APIResponse.message("No session is running") }
            _ = try await sessions.stop(sessionId: id)
            return APIResponse.message("Sent stop signal")
        }
        group.post("skip") { _, _ in
            try await skip("Sent skip signal")
        }
        group.post("continue") { _, _ in
            try await skip("Sent continue signal")
        }
        group.post("start_session") { request, _ in
            try await sessionRoutes.start(try await request.bodyObject())
            return APIResponse.message("Session started")
        }
        group.post("start_inference") { request, _ in
            let body = try await request.bodyObject()
            guard let model = try body.string("model_id", required: true) else { throw APIError.badRequest("missing field 'model_id'") }
            let id = try await startPrediction(id: Store.newId(), model: model, timeout: try body.number("timeout"))
            return try APIResponse.object(["message": "Inference session started", "prediction_id": id])
        }
        group.post("run_command") { request, _ in
            try await runCommand(try await request.bodyObject())
        }
        router.post("/api/v1/predictions/start") { request, _ in
            let body = try await request.bodyObject()
            guard let id = try body.string("prediction_id", required: true) else { throw APIError.badRequest("missing field 'prediction_id'") }
            let model = try body.string("model_id") ?? store.latestModelId()
            guard let model else { throw APIError.badRequest("field 'model_id': no model has been uploaded yet") }
            _ = try await startPrediction(id: id, model: model, timeout: try body.number("timeout"))
            return try APIResponse.object(["message": "Prediction session started", "prediction_id": id])
        }
    }

    private func skip(_ message: String) async throws -> Response {
        guard await sessions.skipBarrier() != nil else { throw APIError.badRequest("No round is waiting at a barrier: nothing to skip") }
        return APIResponse.message(message)
    }

    /// Timeout -1 means "as long as it takes" (capped at a day); default 180 s.
    private func startPrediction(id: String, model: String, timeout: Double?) async throws -> String {
        let seconds = timeout.map { $0 == -1 ? 86_400 : $0 } ?? 180
        guard seconds > 0, seconds.isFinite else { throw APIError.badRequest("field 'timeout' must be positive seconds or -1") }
        guard try store.fetch(ModelRecord.self, id: model) != nil else { throw APIError.notFound("Entity with id: \(model) not found (field 'model_id')") }
        guard try store.fetch(PredictionRecord.self, id: id) == nil,
              try store.fetchAll(PredictionRecord.self, where: "prediction_id", equals: id).isEmpty else {
            throw APIError.badRequest("field 'prediction_id': \(id) is already used")
        }
        do {
            try await sessions.startPrediction(predictionId: id, modelId: model, timeout: seconds)
        } catch let error as SessionManager.StartError {
            throw APIError.badRequest(error.description)
        }
        return id
    }

    /// A custom command (`Custom_<Name>`, never `Fedn_…`) with its parameters: recorded as a
    /// status event and broadcast on `/ws/events`, where tools that implement it act on it.
    private func runCommand(_ body: [String: Any]) async throws -> Response {
        guard var type = try body.string("command_type", required: true) else { throw APIError.badRequest("missing field 'command_type'") }
        guard !type.hasPrefix("Fedn_") else { throw APIError.badRequest("field 'command_type': Fedn_ commands are reserved and cannot be run") }
        if !type.hasPrefix("Custom_") { type = "Custom_\(type)" }
        guard type.count > "Custom_".count, type.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw APIError.badRequest("field 'command_type' must be Custom_<Name> with letters, digits and underscores")
        }
        if let timeout = try body.number("timeout"), timeout != -1, !(timeout > 0) {
            throw APIError.badRequest("field 'timeout' must be positive seconds or -1")
        }
        var parameters = body
        parameters.removeValue(forKey: "command_type")
        let correlation = Store.newId()
        let data = String(decoding: try JSONSerialization.data(withJSONObject: ["command_type": type, "parameters": parameters], options: [.sortedKeys]), as: UTF8.self)
        await sessions.note("COMMAND", "command \(type) sent", session: await sessions.runningSessionId, correlationId: correlation, data: data)
        events.publish("command", ["command_type": type, "correlation_id": correlation, "parameters": data])
        return try APIResponse.object(["message": "Command \(type) is pending", "correlation_id": correlation])
    }
}
