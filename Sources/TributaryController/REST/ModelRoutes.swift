import Foundation
import Hummingbird
import MultipartKit
import TributaryModel
import TributaryStore

/// `POST /api/v1/models/`: store a seed model uploaded as multipart `file` (or as a raw body),
/// in Tributary's native format or NumPy `.npz`; `GET /api/v1/models/{id}/download`.
struct ModelUploadRoutes {
    let store: Store
    static let maxUploadBytes = 2 << 30

    struct Uploaded: Encodable {
        let success = true
        let message = "Model added successfully"
        let model: ModelRecord
        enum CodingKeys: String, CodingKey { case success, message, model, modelId = "model_id" }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(success, forKey: .success)
            try c.encode(message, forKey: .message)
            try c.encode(model, forKey: .model)
            try c.encode(model.modelId, forKey: .modelId)
        }
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/models") { request, _ in
            let buffer = try await request.body.collect(upTo: Self.maxUploadBytes)
            let contentType = request.headers[.contentType] ?? ""
            let (bytes, name) = try Self.extractFile(buffer: buffer, contentType: contentType)
            let model: Model
            do {
                model = try Self.decodeModel(bytes)
            } catch {
                throw APIError.badRequest("field 'file' is not a valid model: \(error)")
            }
            let record = try store.storeModel(model, parent: nil, sessionId: nil, roundNumber: nil, name: name)
            return try APIResponse.json(Uploaded(model: record), status: .created)
        }
        router.get("/api/v1/models/:id/download") { _, context in
            let id = try context.parameters.require("id")
            guard try store.fetch(ModelRecord.self, id: id) != nil else { throw APIError.notFound("model with id \(id) not found") }
            let bytes = try Data(contentsOf: store.models.url(id: id))
            return Response(status: .ok, headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\(id).trbm"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// Native (`TRBMODL1`) or `.npz` (a zip: `PK\u{3}\u{4}`), told apart by magic bytes.
    static func decodeModel(_ bytes: [UInt8]) throws -> Model {
        if bytes.starts(with: Array("PK".utf8)) { return try NPZ.decode(bytes) }
        return try NativeFormat.decode(bytes)
    }

    /// The `file` part of a multipart form (and the optional `name` field), or the raw body.
    static func extractFile(buffer: ByteBuffer, contentType: String) throws -> (bytes: [UInt8], name: String?) {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else {
            guard buffer.readableBytes > 0 else { throw APIError.badRequest("missing field 'file'") }
            return (Array(buffer.readableBytesView), nil)
        }
        guard let boundary = contentType.split(separator: ";").lazy
            .map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { $0.lowercased().hasPrefix("boundary=") })?
            .dropFirst("boundary=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        else { throw APIError.badRequest("multipart body without a boundary") }

        let parser = MultipartParser(boundary: boundary)
        var parts: [(name: String?, body: [UInt8])] = []
        var currentName: String?
        var currentBody: [UInt8] = []
        parser.onHeader = { field, value in
            if field.lowercased() == "content-disposition" { currentName = Self.formName(value) }
        }
        parser.onBody = { chunk in currentBody.append(contentsOf: chunk.readableBytesView) }
        parser.onPartComplete = {
            parts.append((currentName, currentBody))
            currentName = nil
            currentBody = []
        }
        do {
            try parser.execute(buffer)
        } catch {
            throw APIError.badRequest("malformed multipart body")
        }
        guard let file = parts.first(where: { $0.name == "file" }) else { throw APIError.badRequest("missing field 'file'") }
        let name = parts.first(where: { $0.name == "name" }).flatMap { String(decoding: $0.body, as: UTF8.self) }
        return (file.body, name)
    }

    private static func formName(_ disposition: String) -> String? {
        for piece in disposition.split(separator: ";") {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix("name=") {
                return String(pair.dropFirst(5)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}
