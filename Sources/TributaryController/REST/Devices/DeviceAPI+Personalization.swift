import Foundation
import GRDB
import Hummingbird
import TributaryModel
import TributaryStore

/// Personalization state per (device, model, federation): `GET|POST
/// /training/personalized/{device_id}` (the path Octomil's Python SDK calls; `model_id` and
/// `federation_id` from the query or body, defaulting to the newest model and `default`), the
/// list for a federation, and the metrics alone. An upsert answers 200 whether it created or
/// updated; personalized weights (base64 `weights_data`, .npz/.npy/native) are stored as a file
/// and can be downloaded back.
extension DeviceAPI {
    func registerPersonalization<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("training/personalized") { request, _ in
            let principal = try await caller(request)
            if case .device = principal { throw DeviceError(status: .forbidden, message: "a device key reads only its own state: GET /training/personalized/{device_id}") }
            let federation = request.query("federation_id") ?? "default"
            var rows = try store.fetchAll(PersonalizationRecord.self, where: "federation_id", equals: federation).sorted { $0.updatedAt > $1.updatedAt }
            if let org = principal.orgScope {
                let members = Set(try store.fetchAll(DeviceRecord.self, where: "org_id", equals: org).map(\.id))
                rows = rows.filter { members.contains($0.deviceId) }
            }
            return try APIResponse.object(["federation_id": federation, "states": rows.map(present), "total": rows.count])
        }
        api.get("training/personalized/:device") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("device"))
            let (model, federation) = try personalizationKey(request.query("model_id"), request.query("federation_id"))
            let state = try personalState(device, model, federation)
            return try APIResponse.object(["device_id": device.id, "model_id": model, "federation_id": federation,
                                           "state": state.map(present) as Any? ?? NSNull(), "has_weights": state?.weightsKey != nil])
        }
        api.get("training/personalized/:device/metrics") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("device"))
            let (model, federation) = try personalizationKey(request.query("model_id"), request.query("federation_id"))
            guard let state = try personalState(device, model, federation) else {
                throw DeviceError.notFound("device '\(device.deviceIdentifier)' has no personalization state for model '\(model)' in federation '\(federation)'")
            }
            return try APIResponse.object(["device_id": device.id, "model_id": model, "federation_id": federation, "metrics": state.metrics,
                                           "updated_at": FLFormat.date(state.updatedAt)])
        }
        api.get("training/personalized/:device/weights") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("device"))
            let (model, federation) = try personalizationKey(request.query("model_id"), request.query("federation_id"))
            guard let state = try personalState(device, model, federation),
                  let key = state.weightsKey else { throw DeviceError.notFound("device '\(device.deviceIdentifier)' has no personalized weights for model '\(model)'") }
            let weights = try store.updates.read(id: key)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\(key).npz"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try NPZ.encode(weights))))
        }
        api.post("training/personalized/:device") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("device"))
            return try await uploads.withSlot { try await upsertPersonalization(request, device: device) }
        }
    }

    private func upsertPersonalization(_ request: Request, device: DeviceRecord) async throws -> Response {
        let body = try await request.bodyObject(limit: ModelRoutes.maxUploadBytes / 3 * 4 + (1 << 20), allowEmpty: false)
        let (model, federation) = try personalizationKey(try body.string("model_id") ?? request.query("model_id"),
                                                         try body.string("federation_id") ?? request.query("federation_id"))
        let existing = try personalState(device, model, federation)
        var state = existing ?? PersonalizationRecord(deviceId: device.id, modelId: model, federationId: federation, strategy: "local_finetune")
        if let strategy = try body.string("strategy") { state.strategy = strategy }
        if body["metrics"] != nil { state.metrics = try Self.numberMetrics(body["metrics"]) }
        if let encoded = try body.string("weights_data") {
            guard let bytes = Data(base64Encoded: encoded) else { throw DeviceError.badRequest("field 'weights_data' must be base64") }
            let weights = try decodeUpload([UInt8](bytes), field: "weights_data", npyArrayName: "arr_0")
            do { try weights.validateFinite() } catch {
                throw DeviceError.badRequest("field 'weights_data' was refused: \(error)")
            }
            let key = "personal-\(Store.newId())"
            try store.updates.write(weights, id: key)
            if let old = state.weightsKey { try? FileManager.default.removeItem(at: store.updates.url(id: old)) }
            state.weightsKey = key
            state.weightsBytes = weights.spec.totalBytes
        }
        state.updatedAt = Date()
        try store.save(state)
        var out = present(state)
        out["created"] = existing == nil
        return try APIResponse.object(out)
    }

    private func personalState(_ device: DeviceRecord, _ model: String, _ federation: String) throws -> PersonalizationRecord? {
        try store.database.read { db in try PersonalizationRecord.fetchOne(db, key: ["device_id": device.id, "model_id": model, "federation_id": federation]) }
    }

    /// The model (any name the registry knows; default the newest lineage) and federation.
    private func personalizationKey(_ model: String?, _ federation: String?) throws -> (String, String) {
        let id: String
        if let model { id = try requireLineage(model).root.modelId } else {
            guard let newest = try modelLineages().first else { throw DeviceError.badRequest("no model is stored yet: give 'model_id'") }
            id = newest.root.modelId
        }
        return (id, federation ?? "default")
    }

    private func present(_ state: PersonalizationRecord) -> [String: Any] {
        ["device_id": state.deviceId, "model_id": state.modelId, "federation_id": state.federationId, "strategy": state.strategy,
         "metrics": state.metrics, "weights_key": state.weightsKey as Any? ?? NSNull(), "weights_bytes": state.weightsBytes,
         "has_weights": state.weightsKey != nil, "created_at": FLFormat.date(state.createdAt), "updated_at": FLFormat.date(state.updatedAt)]
    }
}
