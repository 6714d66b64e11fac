import Foundation
import GRDB
import Hummingbird
import TributaryModel
import TributaryStore

/// `POST /training/weights` — the SDKs' upload (JSON, base64 `weights_data`) — and what is
/// built on the uploads it keeps: per-version counts, the latest updates, per-device counts,
/// and `POST /training/aggregate`.
///
/// An upload is decoded (.npz, .npy, native), turned into full weights when it is a `delta`
/// of its version, and checked against the version's layout and for NaN/Inf before anything
/// is kept. It then goes where it belongs: into the open round when it names it (`round_id`)
/// or when the round awaits this device and trains this version — the same fold as every
/// other update — else it is stored for a later `/training/aggregate` of its version.
extension DeviceAPI {
    func registerWeights<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.post("training/weights") { request, _ in
            let principal = try await caller(request)
            return try await uploads.withSlot { try await uploadWeights(request, principal: principal) }
        }
        api.get("training/updates/summary") { request, _ in
            let principal = try await caller(request)
            let (lineage, version) = try requestedVersion(request)
            let updates = try storedUpdates(version: version.modelId, org: principal.orgScope)
            return try APIResponse.object([
                "model_id": lineage.root.modelId, "version": version.modelId, "total_updates": updates.count,
                "total_samples": updates.reduce(0) { $0 + $1.sampleCount }, "pending_updates": updates.filter { $0.aggregatedInto == nil }.count,
                "last_update_at": FLFormat.date(updates.first?.receivedAt),
            ])
        }
        api.get("training/updates") { request, _ in
            let principal = try await caller(request)
            let (_, version) = try requestedVersion(request)
            let limit = try Self.integer(request, "limit", default: 50, range: 1...1000)
            let updates = try storedUpdates(version: version.modelId, org: principal.orgScope).prefix(limit)
            return try APIResponse.object(["updates": updates.map(present), "total": updates.count])
        }
        api.get("training/updates/devices") { request, _ in
            let principal = try await caller(request)
            let (_, version) = try requestedVersion(request)
            var byDevice: [String: (count: Int, samples: Int, last: Date)] = [:]
            for update in try storedUpdates(version: version.modelId, org: principal.orgScope) {
                let seen = byDevice[update.deviceId] ?? (0, 0, update.receivedAt)
                byDevice[update.deviceId] = (seen.count + 1, seen.samples + update.sampleCount, max(seen.last, update.receivedAt))
            }
            let rows = byDevice.sorted { $0.value.last > $1.value.last }.map { id, value -> [String: Any] in
                ["device_id": id, "device_identifier": (try? store.fetch(DeviceRecord.self, id: id))??.deviceIdentifier as Any? ?? NSNull(),
                 "update_count": value.count, "total_samples": value.samples, "last_update_at": FLFormat.date(value.last)]
            }
            return try APIResponse.object(["devices": rows, "total": rows.count])
        }
        api.post("training/aggregate") { request, _ in try await aggregate(request) }
    }

    private func uploadWeights(_ request: Request, principal: DevicePrincipal) async throws -> Response {
        let body = try await request.bodyObject(limit: ModelRoutes.maxUploadBytes / 3 * 4 + (1 << 20), allowEmpty: false)
        let device = try actingDevice(principal, named: try body.string("device_id") ?? body.string("device_identifier"))
        guard let modelName = try body.string("model_id") else { throw DeviceError.badRequest("field 'model_id' is required") }
        let lineage = try requireLineage(modelName)
        let (_, version) = try requireVersion(lineage, try body.string("version") ?? "latest")
        guard let samples = try body.integer("sample_count"), samples > 0 else { throw DeviceError.badRequest("field 'sample_count' is required: a positive integer") }
        let format = try body.string("update_format") ?? "weights"
        guard ["weights", "delta"].contains(format) else { throw DeviceError.badRequest("field 'update_format' must be weights or delta, got '\(format)'") }
        guard let encoded = try body.string("weights_data"), let bytes = Data(base64Encoded: encoded) else {
            throw DeviceError.badRequest("field 'weights_data' is required: the model file (.npz, .npy or native), base64-encoded")
        }
        let metrics = try Self.numberMetrics(body["metrics"])
        let base = try store.loadModel(id: version.modelId)
        var update = try decodeUpload([UInt8](bytes), field: "weights_data", npyArrayName: base.spec.tensors.count == 1 ? base.spec.tensors[0].name : "arr_0")
        do {
            guard update.spec == base.spec else { throw ModelError.specMismatch(Model.describeMismatch(expected: base.spec, got: update.spec)) }
            if format == "delta" { update = try base.applying(delta: update) }
            try update.validateFinite()
        } catch {
            throw DeviceError.badRequest("field 'weights_data' was refused for version '\(version.modelId)': \(error)")
        }
        var out: [String: Any] = [
            "model_id": lineage.root.modelId, "version": version.modelId, "device_id": device.id, "device_identifier": device.deviceIdentifier,
            "sample_count": samples, "update_format": format, "received_at": FLFormat.now(),
        ]
        // Into the round when it is named, or when the open round awaits this device on this version.
        let named = try body.string("round_id")
        if let named {
            let round = try requireRound(named)
            guard await openCohort(for: round) != nil else {
                throw DeviceError(status: .conflict, message: "round '\(named)' is not accepting updates (status \(round.status(open: false)))")
            }
        }
        if let open = await cohort.openRound, case let roundId = RoundRecord.id(sessionId: open.order.sessionId, roundNumber: open.order.round),
           named.map({ $0 == roundId }) ?? (open.pending.contains(device.deviceIdentifier) && open.order.modelId == version.modelId) {
            try await submitToCohort(device, update: update, samples: samples, metrics: metrics.merging(["num_samples": Double(samples)]) { a, _ in a }, roundId: roundId)
            out["id"] = Store.newId()
            out["round_id"] = roundId
            out["status"] = "aggregated_in_round"
            return try APIResponse.object(out, status: .created)
        }
        let record = DeviceUpdateRecord(id: Store.newId(), deviceId: device.id, modelId: lineage.root.modelId, version: version.modelId, roundId: named,
                                        sampleCount: samples, metrics: metrics, updateFormat: format, sizeBytes: update.spec.totalBytes)
        try store.updates.write(update, id: record.id)
        try store.insert(record)
        out["id"] = record.id
        out["round_id"] = NSNull()
        out["status"] = "stored"
        return try APIResponse.object(out, status: .created)
    }

    /// `{model_id, base_version, new_version?, min_updates (1), strategy}`: the sample-weighted
    /// FedAvg of the stored, not yet aggregated updates of `base_version`, folded one update at
    /// a time (memory: one model), stored as a new version trained from it.
    private func aggregate(_ request: Request) async throws -> Response {
        let principal = try await requireOperator(request)
        let body = try await request.bodyObject(allowEmpty: false)
        guard let modelName = try body.string("model_id") else { throw DeviceError.badRequest("field 'model_id' is required") }
        let lineage = try requireLineage(modelName)
        let (_, base) = try requireVersion(lineage, try body.string("base_version") ?? "latest")
        let minimum = try body.integer("min_updates") ?? 1
        guard minimum >= 1 else { throw DeviceError.badRequest("field 'min_updates' must be at least 1") }
        let strategy = try body.string("strategy") ?? "fedavg"
        // Octomil's SDK names its default "metrics" (sample-weighted); FedProx aggregates as FedAvg.
        guard ["fedavg", "fedprox", "metrics"].contains(strategy) else {
            throw DeviceError.badRequest("field 'strategy' must be fedavg, fedprox or metrics (sample-weighted FedAvg), got '\(strategy)'")
        }
        let pending = try storedUpdates(version: base.modelId, org: principal.orgScope).filter { $0.aggregatedInto == nil }
        guard pending.count >= minimum else {
            throw DeviceError(status: .conflict, message: "version '\(base.modelId)' has \(pending.count) stored updates, fewer than min_updates \(minimum)")
        }
        var accumulator = try FedAvgAccumulator(spec: base.spec)
        for update in pending { try accumulator.add(try store.updates.read(id: update.id), weight: Double(update.sampleCount)) }
        let average = try accumulator.average()
        let name = try body.string("new_version") ?? "\(lineage.root.name ?? lineage.root.modelId)-v\(lineage.versions.count + 1)"
        let stored = try store.storeModel(average, parent: base.modelId, sessionId: nil, roundNumber: nil, name: name, helper: "numpyhelper")
        let ids = pending.map(\.id)
        try await store.database.write { db in
            try db.execute(sql: "UPDATE device_update SET aggregated_into = ? WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                           arguments: StatementArguments([stored.modelId] + ids))
        }
        return try APIResponse.object([
            "model_id": lineage.root.modelId, "base_version": base.modelId, "new_version": stored.modelId, "name": name,
            "strategy": strategy, "num_updates": pending.count, "total_samples": pending.reduce(0) { $0 + $1.sampleCount },
            "created_at": FLFormat.date(stored.committedAt),
        ], status: .created)
    }

    /// `?model_id=&version=` (default: the latest version).
    private func requestedVersion(_ request: Request) throws -> (ModelLineage, ModelRecord) {
        guard let name = request.query("model_id") else { throw DeviceError.badRequest("query parameter 'model_id' is required") }
        let lineage = try requireLineage(name)
        return (lineage, try requireVersion(lineage, request.query("version") ?? "latest").1)
    }

    /// Stored updates of `version`, newest first; for an org key only its own devices'.
    private func storedUpdates(version: String, org: String?) throws -> [DeviceUpdateRecord] {
        try store.database.read { db in
            if let org {
                return try DeviceUpdateRecord.fetchAll(db, sql: """
                    SELECT u.* FROM device_update u JOIN device d ON d.id = u.device_id WHERE u.version = ? AND d.org_id = ? ORDER BY u.received_at DESC
                    """, arguments: [version, org])
            }
            return try DeviceUpdateRecord.fetchAll(db, sql: "SELECT * FROM device_update WHERE version = ? ORDER BY received_at DESC", arguments: [version])
        }
    }

    private func present(_ update: DeviceUpdateRecord) -> [String: Any] {
        ["id": update.id, "device_id": update.deviceId, "model_id": update.modelId, "version": update.version, "round_id": update.roundId as Any? ?? NSNull(),
         "sample_count": update.sampleCount, "metrics": update.metrics, "update_format": update.updateFormat, "size_bytes": update.sizeBytes,
         "aggregated_into": update.aggregatedInto as Any? ?? NSNull(), "received_at": FLFormat.date(update.receivedAt)]
    }

    /// A `metrics` object of finite numbers (booleans and strings are not metrics); 400 otherwise.
    static func numberMetrics(_ value: Any?) throws -> [String: Double] {
        guard let value, !(value is NSNull) else { return [:] }
        guard let object = value as? [String: Any] else { throw DeviceError.badRequest("field 'metrics' must be an object of numbers") }
        var out: [String: Double] = [:]
        for (key, raw) in object {
            guard let number = raw as? NSNumber, !number.isJSONBool, number.doubleValue.isFinite else {
                throw DeviceError.badRequest("field 'metrics.\(key)' must be a finite number")
            }
            out[key] = number.doubleValue
        }
        return out
    }
}
