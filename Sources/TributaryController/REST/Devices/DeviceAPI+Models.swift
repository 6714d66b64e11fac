import Foundation
import GRDB
import Hummingbird
import TributaryModel
import TributaryStore

/// The model registry calls Octomil's SDK makes, over Tributary's stored models. A registry
/// model is a **lineage**: a model stored without a parent (an uploaded seed) and every model
/// trained from it. Its versions are the lineage's models in commit order; a version is named
/// by its Tributary model id (what `versions/latest` returns and uploads quote), and also
/// answers to its 1-based ordinal.
struct ModelLineage: Sendable {
    var root: ModelRecord
    /// Oldest first; `versions[0]` is the root.
    var versions: [ModelRecord]

    var latest: ModelRecord { versions.last ?? root }

    func version(_ name: String) -> (number: Int, record: ModelRecord)? {
        if name == "latest" { return (versions.count, latest) }
        if let index = versions.firstIndex(where: { $0.modelId == name }) { return (index + 1, versions[index]) }
        if let number = Int(name), (1...versions.count).contains(number) { return (number, versions[number - 1]) }
        return nil
    }
}

extension DeviceAPI {
    func registerModels<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.get("models") { request, _ in
            _ = try await caller(request)
            let lineages = try modelLineages()
            return try APIResponse.object(["models": lineages.map(present), "total": lineages.count])
        }
        api.get("models/:id") { request, context in
            _ = try await caller(request)
            return try APIResponse.object(present(try requireLineage(try context.parameters.require("id"))))
        }
        api.get("models/:id/versions") { request, context in
            _ = try await caller(request)
            let lineage = try requireLineage(try context.parameters.require("id"))
            let versions = lineage.versions.enumerated().map { present(lineage, version: $0.element, number: $0.offset + 1) }
            return try APIResponse.object(["versions": versions, "total": versions.count])
        }
        api.get("models/:id/versions/:version") { request, context in
            _ = try await caller(request)
            let lineage = try requireLineage(try context.parameters.require("id"))
            let (number, record) = try requireVersion(lineage, try context.parameters.require("version"))
            return try APIResponse.object(present(lineage, version: record, number: number))
        }
        api.get("models/:id/versions/:version/download") { request, context in
            _ = try await caller(request)
            let lineage = try requireLineage(try context.parameters.require("id"))
            let (_, record) = try requireVersion(lineage, try context.parameters.require("version"))
            return try await download(record, format: request.query("format") ?? "npz", context: context)
        }
    }

    /// Every lineage, newest activity first.
    func modelLineages() throws -> [ModelLineage] {
        let models = try store.database.read { db in try ModelRecord.order(sql: "committed_at, model_id").fetchAll(db) }
        let byId = Dictionary(models.map { ($0.modelId, $0) }, uniquingKeysWith: { first, _ in first })
        var rootOf: [String: String] = [:]
        func root(_ id: String) -> String {
            if let known = rootOf[id] { return known }
            var chain: [String] = [], current = id
            while let parent = byId[current]?.parentModel, byId[parent] != nil, !chain.contains(current) {
                chain.append(current)
                current = parent
            }
            for link in chain { rootOf[link] = current }
            rootOf[id] = current
            return current
        }
        var lineages: [String: ModelLineage] = [:], order: [String] = []
        for model in models {
            let top = root(model.modelId)
            if lineages[top] == nil, let record = byId[top] {
                lineages[top] = ModelLineage(root: record, versions: [])
                order.append(top)
            }
            lineages[top]?.versions.append(model)
        }
        return order.compactMap { lineages[$0] }.sorted { $0.latest.committedAt > $1.latest.committedAt }
    }

    /// The lineage of `id`: a root's id, any version's id, or a root's name.
    func lineage(_ id: String) throws -> ModelLineage? {
        let all = try modelLineages()
        return all.first { $0.root.modelId == id } ?? all.first { $0.versions.contains { $0.modelId == id } } ?? all.first { $0.root.name == id }
    }

    func requireLineage(_ id: String) throws -> ModelLineage {
        guard let found = try lineage(id) else { throw DeviceError.notFound("model '\(id)' does not exist") }
        return found
    }

    func requireVersion(_ lineage: ModelLineage, _ name: String) throws -> (Int, ModelRecord) {
        guard let found = lineage.version(name) else { throw DeviceError.notFound("model '\(lineage.root.modelId)' has no version '\(name)'") }
        return found
    }

    /// A stored model as `npz` (default), `native`, or `npy` (single-tensor models only).
    func download(_ record: ModelRecord, format: String, context: some RequestContext) async throws -> Response {
        switch format {
        case "npz", "native": return try await ModelRoutes.download(record, format: format, store: store, context: context)
        case "npy":
            let model = try store.loadModel(id: record.modelId)
            guard model.spec.tensors.count == 1 else {
                throw DeviceError.badRequest("format 'npy' holds one array; model '\(record.modelId)' has \(model.spec.tensors.count) tensors: use npz")
            }
            return Response(status: .ok, headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\(record.modelId).npy"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try NPZ.encodeArray(model))))
        default:
            throw DeviceError.badRequest("format '\(format)' is not served: npz, npy or native (Tributary stores tensors, not framework checkpoints)")
        }
    }

    private func present(_ lineage: ModelLineage) -> [String: Any] {
        let root = lineage.root, latest = lineage.latest
        return [
            "id": root.modelId, "model_id": root.modelId, "name": root.name ?? root.modelId, "framework": "tributary",
            "latest_version": latest.modelId, "version_count": lineage.versions.count, "parameter_count": latest.parameterCount,
            "created_at": FLFormat.date(root.committedAt), "updated_at": FLFormat.date(latest.committedAt),
            "architecture": ["tensors": latest.spec.tensors.map { ["name": $0.name, "dtype": $0.dtype.rawValue, "shape": $0.shape] as [String: Any] }],
        ]
    }

    private func present(_ lineage: ModelLineage, version record: ModelRecord, number: Int) -> [String: Any] {
        let formats: [String] = ["npz", "native"] + (record.spec.tensors.count == 1 ? ["npy"] : [])
        return [
            "model_id": lineage.root.modelId, "version": record.modelId, "version_number": number, "name": record.name as Any? ?? NSNull(),
            "parent_version": record.parentModel as Any? ?? NSNull(), "session_id": record.sessionId as Any? ?? NSNull(),
            "parameter_count": record.parameterCount, "size_bytes": record.sizeBytes, "checksum": record.checksum,
            "created_at": FLFormat.date(record.committedAt), "formats": formats,
        ]
    }
}
