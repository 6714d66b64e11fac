import Foundation
import GRDB
import Hummingbird
import TributaryModel
import TributaryStore

/// Training rounds as devices see them (seed `000_…`): a device round is one round of the
/// network — a one-round session whose HTTP cohort takes the selected devices (beside any nng
/// clients), so a device update gets the checks and the weighted fold every update gets.
/// A round that has fewer than `min_devices` updates by `timeout_at` fails.
extension DeviceAPI {
    func registerRounds<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("training/rounds/current") { request, _ in
            _ = try await caller(request)
            let latest = try await store.database.read { db in try RoundRecord.order(sql: "committed_at DESC").fetchOne(db) }
            guard let latest, let round = try resolveRound(latest.roundId) else { throw DeviceError.notFound("no training round has been created yet") }
            return try APIResponse.object(try await roundBody(round))
        }
        api.get("training/rounds/:id/status") { request, context in
            _ = try await caller(request)
            return try APIResponse.object(try await roundBody(try requireRound(try context.parameters.require("id"))))
        }
        api.get("training/rounds/:id") { request, context in
            _ = try await caller(request)
            return try APIResponse.object(try await roundBody(try requireRound(try context.parameters.require("id"))))
        }
        // The models a round's paths point at, as .npz (`?format=native` for Tributary's own).
        api.get("training/rounds/:id/global-model") { request, context in
            _ = try await caller(request)
            return try await roundModel(request, try requireRound(try context.parameters.require("id")), aggregated: false, context: context)
        }
        api.get("training/rounds/:id/aggregated-model") { request, context in
            _ = try await caller(request)
            return try await roundModel(request, try requireRound(try context.parameters.require("id")), aggregated: true, context: context)
        }
        api.post("training/rounds/:id/updates") { request, context in
            try await submitUpdate(request, roundId: try context.parameters.require("id"))
        }
    }

    /// Multipart `file` (.npz, .npy or native), `num_samples` (the update's weight), and the
    /// optional `local_loss`, `local_accuracy`, `training_time_seconds`; with an org key, also
    /// `device_id`. The body is read only when an upload slot is free (`UploadSlots`), bounded by
    /// the upload limit, and the update is folded at once.
    private func submitUpdate(_ request: Request, roundId: String) async throws -> Response {
        let principal = try await caller(request)
        let round = try requireRound(roundId)
        guard await openCohort(for: round) != nil else {
            throw DeviceError(status: .conflict, message: "round '\(roundId)' is not accepting updates (status \(round.status(open: false)))")
        }
        return try await uploads.withSlot {
            let buffer = try await request.body.collect(upTo: ModelRoutes.maxUploadBytes)
            let form = try MultipartForm(buffer: buffer, contentType: request.headers[.contentType] ?? "")
            let device = try actingDevice(principal, named: form.fields["device_id"])
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
            // A single .npy array is one tensor named after the file (NumPy's own default otherwise).
            let stem = file.filename.map { ($0 as NSString).deletingPathExtension } ?? ""
            let update = try decodeUpload(file.bytes, field: "file", npyArrayName: stem.isEmpty ? "arr_0" : stem)
            try await submitToCohort(device, update: update, samples: samples, metrics: metrics, roundId: round.id)
            var out: [String: Any] = [
                "id": Store.newId(), "round_id": round.id, "device_id": device.id, "device_identifier": device.deviceIdentifier,
                "model_size_bytes": update.spec.totalBytes, "num_samples": samples, "created_at": FLFormat.now(), "model_path": NSNull(),
            ]
            for key in ["local_loss", "local_accuracy", "training_time_seconds"] { out[key] = metrics[key] as Any? ?? NSNull() }
            return try APIResponse.object(out, status: .created)
        }
    }

    /// A model a device sent, in a format this server reads; 400 naming `field` otherwise.
    func decodeUpload(_ bytes: [UInt8], field: String, npyArrayName: String) throws -> Model {
        do { return try ModelRoutes.decodeModel(bytes, npyArrayName: npyArrayName) } catch {
            throw DeviceError.badRequest("field '\(field)' is not a model in a format this server reads (.npz, .npy, native): \(error)")
        }
    }

    private func roundModel(_ request: Request, _ round: DeviceRound, aggregated: Bool, context: some RequestContext) async throws -> Response {
        let modelIn = round.round?.modelIn ?? round.session.sessionConfig.modelId ?? round.session.seedModelId
        guard let modelId = aggregated ? round.round?.modelOut : modelIn, let record = try store.fetch(ModelRecord.self, id: modelId) else {
            throw DeviceError.notFound("round '\(round.id)' has no \(aggregated ? "aggregated" : "global") model yet")
        }
        let format = request.query("format") ?? "npz"
        guard ["npz", "native"].contains(format) else { throw DeviceError.badRequest("format '\(format)' is not served: npz or native") }
        return try await ModelRoutes.download(record, format: format, store: store, context: context)
    }

    /// Folds a device's update into the open round; the cohort's refusal as the API's error.
    func submitToCohort(_ device: DeviceRecord, update: Model, samples: Int, metrics: [String: Double], roundId: String) async throws {
        guard let refusal = await cohortRefusal(device, update: update, samples: samples, metrics: metrics) else { return }
        let name = device.deviceIdentifier
        switch refusal {
        case .noActiveRound: throw DeviceError(status: .conflict, message: "round '\(roundId)' is not accepting updates")
        case .notSelected: throw DeviceError(status: .conflict, message: "device '\(name)' is not selected for round '\(roundId)'")
        case .alreadyAnswered: throw DeviceError(status: .conflict, message: "device '\(name)' already submitted an update for round '\(roundId)'")
        case .invalid(let reason): throw DeviceError.badRequest("the update was refused: \(reason)")
        case .secure(let error): throw DeviceError.badRequest("the update was refused: \(error.message)")
        }
    }

    private func cohortRefusal(_ device: DeviceRecord, update: Model, samples: Int, metrics: [String: Double]) async -> HTTPCohort.Refusal? {
        do {
            _ = try await cohort.submit(clientId: device.deviceIdentifier, update: update, weight: Double(samples), metrics: metrics)
            return nil
        } catch {
            return error
        }
    }
}
