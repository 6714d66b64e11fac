import Foundation
import Hummingbird
import TributaryModel
import TributaryStore
import TributaryWire

/// `GET /model/global`, `GET /model/download/{id}`, `POST /model/update/{client_id}`,
/// `POST /model/validate/{client_id}`. Updates go through `HTTPCohort`: the checks every
/// update gets, then the round's weighted sum — weighted by the `data_samples` the client
/// reports.
extension FLFrameworkAPI {
    /// What `format` may ask for; the frameworks' own formats are refused with this list.
    static let formats = ["npz", "native"]

    func registerModels<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("model/global") { request, _ in
            let format = try Self.format(request)
            let session = try await currentSession()
            let rounds = try session.map { try finishedRounds(of: $0.sessionId) } ?? []
            let round: RoundRecord?, modelId: String
            if let wanted = try request.intQuery("round") {
                guard let found = rounds.first(where: { $0.roundNumber == wanted }), let out = found.modelOut else {
                    throw FLError.notFound("round \(wanted) of experiment '\(session?.sessionId ?? "-")' has no model")
                }
                (round, modelId) = (found, out)
            } else if let last = rounds.last, let out = last.modelOut {
                (round, modelId) = (last, out)
            } else if let seed = try session?.sessionConfig.modelId ?? store.latestModelId() {
                (round, modelId) = (nil, seed)
            } else {
                throw FLError.notFound("no model is stored yet")
            }
            guard let record = try store.fetch(ModelRecord.self, id: modelId) else { throw FLError.notFound("model \(modelId) is gone") }
            let query = format.map { "?format=\($0)" } ?? ""
            return try APIResponse.object([
                "model_id": modelId, "round": round?.roundNumber ?? 0, "experiment_id": session?.sessionId ?? NSNull(),
                "accuracy": round?.roundData.validation["accuracy"] ?? NSNull(), "loss": round?.roundData.validation["loss"] ?? NSNull(),
                "parameters_count": record.parameterCount, "model_size_mb": Double(record.sizeBytes) / 1_048_576,
                "created_at": FLFormat.date(record.committedAt), "download_url": "/model/download/\(modelId)\(query)",
                "format": format ?? (((try? record.helper ?? store.activeHelper()) ?? "numpyhelper") == "numpyhelper" ? "npz" : "native"),
            ])
        }
        api.get("model/download/:id") { request, context in
            let format = try Self.format(request)
            let id = try context.parameters.require("id")
            guard let record = try store.fetch(ModelRecord.self, id: id) else { throw FLError.notFound("model '\(id)' does not exist") }
            return try await ModelRoutes.download(record, format: format, store: store, context: context)
        }
        api.post("model/update/:client_id") { request, context in
            let client = try context.parameters.require("client_id")
            let (update, weight, metrics) = try await upload(request, client: client)
            let receipt: HTTPCohort.Receipt
            do {
                receipt = try await cohort.submit(clientId: client, update: update, weight: weight, metrics: metrics)
            } catch {
                throw try await refusal(error, client: client)
            }
            events.publish("client_update", ["client_id": client, "status": "training_completed", "round": receipt.round,
                                             "experiment_id": receipt.sessionId, "metrics": metrics])
            return try APIResponse.object([
                "update_id": "update_" + UUID().uuidString.prefix(8).lowercased(), "client_id": client, "round": receipt.round,
                "experiment_id": receipt.sessionId, "status": "received", "model_size_mb": Double(update.spec.totalBytes) / 1_048_576,
                "received_at": FLFormat.now(), "validation_status": "passed", "weight": receipt.weight,
            ], status: .created)
        }
        api.post("model/validate/:client_id") { request, context in
            let client = try context.parameters.require("client_id")
            let (update, weight, _) = try await upload(request, client: client)
            // Against the open round when there is one (its norm bound, its model), else against
            // the current model with the current experiment's settings.
            let order: JobOrder, global: Model
            if let open = await cohort.openRound {
                order = open.order
                global = try store.loadModel(id: open.order.modelId)
            } else {
                let session = try await currentSession()
                guard let modelId = try session.flatMap({ try finishedRounds(of: $0.sessionId).last?.modelOut }) ?? session?.sessionConfig.modelId ?? store.latestModelId()
                else { throw FLError.notFound("no model is stored to validate against") }
                global = try store.loadModel(id: modelId)
                var o = JobOrder(jobId: "validate", sessionId: session?.sessionId ?? "", round: 0, kind: .train, modelId: modelId, chunkSize: 8 << 20,
                                 config: TrainingConfig(), timeoutSeconds: 1, minClients: 1)
                if let settings = try? session?.sessionConfig.aggregatorSettings() { ServerAggregation(settings: settings).configure(&o) }
                order = o
            }
            do {
                try HTTPCohort.validate(update, weight: weight, order: order, global: global)
            } catch {
                throw try await refusal(error, client: client)
            }
            return try APIResponse.object([
                "client_id": client, "valid": true, "validation_status": "passed", "model_id": order.modelId, "round": order.round,
                "checks": ["layout", "finite_values", "example_count"] + (order.maxUpdateNorm != nil ? ["max_update_norm"] : []),
                "timestamp": FLFormat.now(),
            ])
        }
    }

    /// `format` of a model request: npz or native; 400 for the frameworks' own formats.
    static func format(_ request: Request) throws -> String? {
        guard let format = request.query("format")?.lowercased() else { return nil }
        guard formats.contains(format) else {
            throw FLError.invalid("format '\(format)' cannot be produced: this server serves \(formats.joined(separator: " and ")) (NumPy .npz, Tributary native)")
        }
        return format
    }

    /// A registered client's multipart upload: `model_file` (.npz, .npy or native) and
    /// `metrics` (JSON; `data_samples` is the update's weight).
    func upload(_ request: Request, client: String) async throws -> (Model, Double, [String: Double]) {
        guard try participants.find(client) != nil else { throw FLError.notRegistered(client) }
        try participants.touch(client)
        let buffer = try await request.body.collect(upTo: ModelRoutes.maxUploadBytes)
        let form = try MultipartForm(buffer: buffer, contentType: request.headers[.contentType] ?? "")
        guard let file = form.files["model_file"] ?? form.files["file"] else { throw FLError.invalid("multipart field 'model_file' is required") }
        var metrics: [String: Double] = [:]
        if let text = form.fields["metrics"] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw FLError.invalid("field 'metrics' must be a JSON object")
            }
            for (key, value) in object {
                if let n = value as? NSNumber, !n.isJSONBool { metrics[key] = n.doubleValue }
            }
        }
        guard let weight = metrics["data_samples"] ?? metrics["num_examples"] else {
            throw FLError.invalid("field 'metrics' must give 'data_samples', the number of examples the update was trained on (its weight)")
        }
        let model: Model
        do { model = try ModelRoutes.decodeModel(file.bytes, npyArrayName: "arr_0") } catch {
            throw FLError.validationFailed("field 'model_file' is not a model in a format this server reads (.npz, .npy, native): \(error)")
        }
        return (model, weight, metrics)
    }

    /// The API's error for an update the cohort did not take.
    func refusal(_ error: any Error, client: String) async throws -> FLError {
        guard let refusal = error as? HTTPCohort.Refusal else { throw error }
        switch refusal {
        case .noActiveRound:
            if await sessions.runningSessionId == nil { return FLError.experimentNotActive("no experiment is running; start one with POST /training/start") }
            return FLError.roundNotActive("no training round is collecting updates now; poll /training/status")
        case .notSelected(let round):
            return FLError.roundNotActive("client '\(client)' is not selected for round \(round) (it registered after the round began, or the policy excluded it)")
        case .alreadyAnswered(let round):
            return FLError(.conflict, "CONFLICT", "Resource already exists", details: "client '\(client)' already sent its update for round \(round)")
        case .invalid(let reason):
            return FLError.validationFailed(reason)
        case .secure(let error):
            return FLError.validationFailed(error.message)
        }
    }
}
