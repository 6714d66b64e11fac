import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

@Suite("Model upload and download")
struct ModelRouteTests {
    enum Format: String, CaseIterable, Sendable {
        case npz, native

        func encode(_ model: Model) throws -> [UInt8] {
            switch self {
            case .npz: try NPZ.encode(model)
            case .native: NativeFormat.encode(model)
            }
        }
    }

    @Test("Multipart `file` upload stores the same model", arguments: Format.allCases, [nil, "seed-v1"])
    func multipartUpload(format: Format, name: String?) async throws {
        let model = try Fixtures.model(seed: 3)
        var form = Multipart(parts: [.init(name: "file", filename: "seed.\(format.rawValue)", bytes: try format.encode(model))])
        if let name { form.parts.append(.init(name: "name", bytes: Array(name.utf8))) }
        let upload = form
        try await withController { service, client in
            for path in ["/api/v1/models/", "/api/v1/models"] {
                let response = try await client.post(path, bytes: upload.body, contentType: upload.contentType)
                #expect(response.status == .created, "\(path): \(response.text)")
                let body = response.object()
                let id = try #require(body["model_id"] as? String)
                #expect(try service.store.loadModel(id: id) == model)
                let record = try #require(try service.store.fetch(ModelRecord.self, id: id))
                #expect(record.name == name)
                #expect(record.sessionId == nil && record.parentModel == nil)
            }
            #expect(try await client.get("/api/v1/models/count").integer() == 2)
        }
    }

    @Test("A raw application/octet-stream body is accepted", arguments: Format.allCases)
    func rawBody(format: Format) async throws {
        let model = try Fixtures.model(seed: 5)
        let bytes = try format.encode(model)
        try await withController { service, client in
            let response = try await client.post("/api/v1/models/", bytes: bytes, contentType: "application/octet-stream")
            #expect(response.status == .created, "\(response.text)")
            let id = try #require(response.object()["model_id"] as? String)
            #expect(try service.store.loadModel(id: id) == model)
        }
    }

    @Test("A file that is not a model is a 400 and stores nothing")
    func garbageFile() async throws {
        let garbage: [[UInt8]] = [Array("definitely not a model".utf8), Array("PK\u{3}\u{4}broken zip".utf8), NativeFormat.magic + [1, 2, 3]]
        try await withController { _, client in
            for bytes in garbage {
                let form = Multipart(parts: [.init(name: "file", filename: "bad.npz", bytes: bytes)])
                let response = try await client.post("/api/v1/models/", bytes: form.body, contentType: form.contentType)
                #expect(response.status == .badRequest)
                #expect(response.message().contains("file"))
                let raw = try await client.post("/api/v1/models/", bytes: bytes, contentType: "application/octet-stream")
                #expect(raw.status == .badRequest)
                #expect(!raw.message().isEmpty)
            }
            #expect(try await client.get("/api/v1/models/count").integer() == 0)
        }
    }

    @Test("A form without a `file` field, or an empty body, is a 400")
    func missingFile() async throws {
        let model = try NativeFormat.encode(Fixtures.model())
        try await withController { _, client in
            let wrongField = Multipart(parts: [.init(name: "model", filename: "m.trbm", bytes: model)])
            var response = try await client.post("/api/v1/models/", bytes: wrongField.body, contentType: wrongField.contentType)
            #expect(response.status == .badRequest)
            #expect(response.message().contains("'file'"))

            let nameOnly = Multipart(parts: [.init(name: "name", bytes: Array("x".utf8))])
            response = try await client.post("/api/v1/models/", bytes: nameOnly.body, contentType: nameOnly.contentType)
            #expect(response.status == .badRequest)
            #expect(response.message().contains("'file'"))

            response = try await client.post("/api/v1/models/", bytes: [], contentType: "application/octet-stream")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("'file'"))

            response = try await client.post("/api/v1/models/", bytes: Array("x".utf8), contentType: "multipart/form-data")
            #expect(response.status == .badRequest)
            #expect(!response.message().isEmpty)
        }
    }

    @Test("GET /models/{id} returns the record; a model uploaded as .npz downloads as .npz, one uploaded native as native")
    func getAndDownload() async throws {
        let model = try Fixtures.model(seed: 7)
        try await withController { service, client in
            let form = Multipart(parts: [.init(name: "file", filename: "m.npz", bytes: try NPZ.encode(model)),
                                         .init(name: "name", bytes: Array("seven".utf8))])
            let upload = try await client.post("/api/v1/models/", bytes: form.body, contentType: form.contentType)
            let id = try #require(upload.object()["model_id"] as? String)

            let get = try await client.get("/api/v1/models/\(id)")
            #expect(get.status == .ok)
            let record = get.object()
            #expect(record["model_id"] as? String == id)
            #expect(record["name"] as? String == "seven")
            #expect(intValue(record["parameter_count"]) == 9)
            #expect(record["committed_at"] != nil && record["updated_at"] != nil)

            let download = try await client.get("/api/v1/models/\(id)/download")
            #expect(download.status == .ok)
            #expect(download.headers[.contentType] == "application/octet-stream")
            #expect(download.headers[.contentDisposition]?.contains(id) == true)
            #expect(download.headers[.contentDisposition]?.contains("\(id).npz") == true)
            #expect(try NPZ.decode(download.bytes) == model)
            #expect(try NativeFormat.decode(try await client.get("/api/v1/models/\(id)/download?format=native").bytes) == model)
            #expect(try service.store.loadModel(id: id) == model)

            let native = Multipart(parts: [.init(name: "file", filename: "m.trbm", bytes: NativeFormat.encode(model))])
            let nativeId = try #require(try await client.post("/api/v1/models/", bytes: native.body, contentType: native.contentType).object()["model_id"] as? String)
            #expect(try NativeFormat.decode(try await client.get("/api/v1/models/\(nativeId)/download").bytes) == model)
        }
    }

    @Test("Unknown model id: GET and /download are 404 JSON")
    func unknownModel() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            for path in ["/api/v1/models/missing", "/api/v1/models/missing/download"] {
                let response = try await client.get(path)
                #expect(response.status == .notFound, "\(path)")
                #expect(response.message().contains("missing"))
            }
        }
    }
}
