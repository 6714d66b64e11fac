import Foundation
import GRDB
import Hummingbird
import TributaryModel
import TributaryStore

/// Model writes and views beyond the shared read routes: upload (multipart `file`, a raw
/// body, or a `file_token` from a chunked upload), `download`, `parameters`, `PATCH`/`PUT`,
/// and the model trail (`ancestors`, `descendants`, `leaf-nodes`), walked by SQLite.
struct ModelRoutes {
    let store: Store
    let uploads: FileUploads
    let resource: Resource<ModelRecord>
    static let maxUploadBytes = 2 << 30
    /// `/parameters` renders values as JSON numbers; beyond this, use `/download`.
    static let maxParameterValues = 1_000_000

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/models") { request, _ in
            let contentType = request.headers[.contentType] ?? ""
            let model: Model, name: String?, helper: String
            if contentType.lowercased().hasPrefix("application/json") {
                let body = try await request.bodyObject()
                guard let token = try body.string("file_token", required: true) else { throw APIError.badRequest("missing field 'file_token'") }
                let file = try uploads.take(token: token)
                do { model = try Self.decodeModel(file.bytes) } catch { throw APIError.badRequest("field 'file' is not a valid model: \(error)") }
                (name, helper) = (try body.string("name") ?? file.name, Self.helper(ofStored: file.bytes))
            } else {
                // Streamed to a file and decoded from it: no request buffer of the model's size.
                let upload = try await StreamedUpload.receive(request.body, contentType: contentType, into: uploads.directory,
                                                              limit: ModelSpec.maxTotalBytes + (64 << 20))
                defer { try? FileManager.default.removeItem(at: upload.file) }
                do { model = try ModelFile.read(from: upload.file) } catch { throw APIError.badRequest("field 'file' is not a valid model: \(error)") }
                (name, helper) = (upload.fields["name"], ModelFile.isNPZ(upload.file) ? "numpyhelper" : "native")
            }
            let record = try store.storeModel(model, parent: nil, sessionId: nil, roundNumber: nil, name: name, helper: helper)
            var body = try resource.present(record)
            body["success"] = true
            body["message"] = "Model added successfully"
            return try APIResponse.object(body, status: .created)
        }
        router.get("/api/v1/models/leaf-nodes") { request, _ in
            let limit = try request.positiveHeader("X-Limit") ?? -1
            let rows = try store.database.read { db in
                try ModelRecord.fetchAll(db, sql: """
                    SELECT * FROM model WHERE model_id NOT IN (SELECT parent_model FROM model WHERE parent_model IS NOT NULL)
                    ORDER BY committed_at DESC LIMIT ?
                    """, arguments: [limit])
            }
            return try APIResponse.object(try rows.map(resource.present))
        }
        router.get("/api/v1/models/:id/download") { request, context in
            let record = try resource.fetch(try context.parameters.require("id"), in: store)
            return try await Self.download(record, format: request.query("format"), store: store, context: context)
        }
        router.get("/api/v1/models/:id/parameters") { _, context in
            let record = try resource.fetch(try context.parameters.require("id"), in: store)
            guard record.parameterCount <= Self.maxParameterValues else {
                throw APIError.badRequest("model \(record.modelId) has \(record.parameterCount) parameters, more than /parameters renders (\(Self.maxParameterValues)); use /download")
            }
            let model = try store.loadModel(id: record.modelId)
            return try APIResponse.object(["array": Self.nestedArrays(model), "names": model.spec.tensors.map(\.name)])
        }
        router.get("/api/v1/models/:id/ancestors") { request, context in
            let id = try context.parameters.require("id")
            _ = try resource.fetch(id, in: store)
            var rows = try trail(from: id, column: "parent_model", limit: try request.positiveHeader("X-Limit") ?? 10)
            if try request.flag("include_self", default: false) { rows.insert(try resource.fetch(id, in: store), at: 0) }
            let limit = try request.positiveHeader("X-Limit") ?? 10
            rows = Array(rows.prefix(limit))
            if request.header("X-Reverse")?.lowercased() == "true" { rows.reverse() }
            return try APIResponse.object(try rows.map(resource.present))
        }
        router.get("/api/v1/models/:id/descendants") { request, context in
            let id = try context.parameters.require("id")
            _ = try resource.fetch(id, in: store)
            let rows = try trail(from: id, column: "model_id", limit: try request.positiveHeader("X-Limit") ?? 10)
            return try APIResponse.object(try rows.prefix(try request.positiveHeader("X-Limit") ?? 10).map(resource.present))
        }
        router.patch("/api/v1/models/:id") { request, context in
            try await update(try context.parameters.require("id"), try await request.bodyObject(), replace: false)
        }
        router.put("/api/v1/models/:id") { request, context in
            try await update(try context.parameters.require("id"), try await request.bodyObject(), replace: true)
        }
    }

    /// Ancestors (nearest first) or descendants (by depth) of a model, by a recursive query.
    private func trail(from id: String, column: String, limit: Int) throws -> [ModelRecord] {
        let limit = limit + 1
        let step = column == "parent_model"
            ? "SELECT m.parent_model, t.depth + 1 FROM model m JOIN trail t ON m.model_id = t.id WHERE m.parent_model IS NOT NULL"
            : "SELECT m.model_id, t.depth + 1 FROM model m JOIN trail t ON m.parent_model = t.id"
        let start = column == "parent_model" ? "SELECT parent_model, 1 FROM model WHERE model_id = ? AND parent_model IS NOT NULL"
                                              : "SELECT model_id, 1 FROM model WHERE parent_model = ?"
        return try store.database.read { db in
            try ModelRecord.fetchAll(db, sql: """
                WITH RECURSIVE trail(id, depth) AS (\(start) UNION \(step) AND t.depth < ?)
                SELECT model.* FROM trail JOIN model ON model.model_id = trail.id ORDER BY trail.depth, model.committed_at LIMIT ?
                """, arguments: [id, limit, limit])
        }
    }

    /// PATCH sets the given metadata; PUT sets all of it (missing → null). The content of a
    /// model never changes; `model` and `model_id` in the body are ignored, as FEDn does.
    private func update(_ id: String, _ body: [String: Any], replace: Bool) async throws -> Response {
        var fields = body
        fields.removeValue(forKey: "model_id")
        fields.removeValue(forKey: "model")
        try fields.onlyKeys(["name", "parent_model", "session_id"])
        var record = try resource.fetch(id, in: store)
        if replace || fields["name"] != nil { record.name = try fields.string("name") }
        if replace || fields["parent_model"] != nil {
            let parent = try fields.string("parent_model")
            if let parent {
                guard parent != id, try store.fetch(ModelRecord.self, id: parent) != nil else {
                    throw APIError.badRequest("field 'parent_model': model \(parent) not found")
                }
                guard try !trail(from: parent, column: "parent_model", limit: 100_000).contains(where: { $0.modelId == id }) else {
                    throw APIError.badRequest("field 'parent_model': \(parent) descends from \(id); the trail would loop")
                }
            }
            record.parentModel = parent
        }
        if replace || fields["session_id"] != nil {
            let session = try fields.string("session_id")
            if let session, try store.fetch(SessionRecord.self, id: session) == nil { throw APIError.badRequest("field 'session_id': session \(session) not found") }
            record.sessionId = session
        }
        record.updatedAt = Date()
        try store.save(record)
        return try APIResponse.object(resource.present(record))
    }

    /// Native (`TRBMODL1`) or `.npz` (a zip: `PK\u{3}\u{4}`), told apart by magic bytes.
    /// The helper a model stored from these bytes follows: FEDn's `numpyhelper` for an .npz
    /// (a ZIP), `native` for Tributary's own format.
    static func helper(ofStored bytes: [UInt8]) -> String {
        bytes.starts(with: Array("PK".utf8)) ? "numpyhelper" : "native"
    }

    /// A model file in the format asked for, else in the one its helper implies: .npz for
    /// `numpyhelper` (FEDn's default, and what `numpy.load` opens), native otherwise. A native
    /// file is streamed from disk in 1 MiB reads, so a model of several GB never sits in the
    /// controller's memory to be served; .npz is encoded from the model.
    static func download(_ record: ModelRecord, format: String?, store: Store, context: some RequestContext) async throws -> Response {
        let helper = try record.helper ?? store.activeHelper()
        let body: ResponseBody, file: String
        switch format ?? (helper == "numpyhelper" ? "npz" : "native") {
        case "native":
            body = try await FileIO().loadFile(path: store.models.url(id: record.modelId).path, context: context, chunkLength: 1 << 20)
            file = "\(record.modelId).trbm"
        case "npz":
            body = ResponseBody(byteBuffer: ByteBuffer(bytes: try NPZ.encode(try store.loadModel(id: record.modelId))))
            file = "\(record.modelId).npz"
        default: throw APIError.badRequest("query parameter 'format' must be native or npz")
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\(file)"], body: body)
    }

    /// A model from .npz or native bytes; with `npyArrayName`, also a single NumPy `.npy` array
    /// (one tensor of that name), as the HTTP participants' APIs accept.
    static func decodeModel(_ bytes: [UInt8], npyArrayName: String? = nil) throws -> Model {
        if bytes.starts(with: Array("PK".utf8)) { return try NPZ.decode(bytes) }
        if let name = npyArrayName, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) { return try NPZ.decodeArray(bytes, name: name) }
        return try NativeFormat.decode(bytes)
    }

    /// Each tensor as nested JSON arrays of its shape (FEDn's `{"array": [...]}`).
    static func nestedArrays(_ model: Model) -> [Any] {
        model.spec.tensors.enumerated().map { i, tensor in
            let offset = model.spec.offsets[i]
            let values: [Any] = model.data.withUnsafeBytes { raw in
                (0..<tensor.count).map { k -> Any in
                    let at = offset + k * tensor.dtype.size
                    switch tensor.dtype {
                    case .float32: return Double(raw.loadUnaligned(fromByteOffset: at, as: Float.self))
                    case .float64: return raw.loadUnaligned(fromByteOffset: at, as: Double.self)
                    case .int32: return Int(raw.loadUnaligned(fromByteOffset: at, as: Int32.self))
                    case .int64: return Int(raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                    case .uint8: return Int(raw[at])
                    }
                }
            }
            return reshape(values, tensor.shape)
        }
    }

    private static func reshape(_ flat: [Any], _ shape: [Int]) -> Any {
        guard shape.count > 1 else { return shape.isEmpty ? (flat.first ?? NSNull()) : flat }
        let inner = shape.dropFirst().reduce(1, *)
        return (0..<shape[0]).map { reshape(Array(flat[($0 * inner)..<(($0 + 1) * inner)]), Array(shape.dropFirst())) }
    }
}
