import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

@Suite("Chunked file upload: init → chunk → complete → file_token → model")
struct FileUploadRouteTests {
    static let minChunk = 256 << 10

    /// A model of about 400 KB: two chunks at the smallest chunk size.
    static func bigModel() throws -> Model {
        try Model(float32: [(name: "w", shape: [100, 1000], values: (0..<100_000).map { Float($0 % 977) * 0.5 - 3 })])
    }

    /// `POST init`; returns the upload id after checking the echoed plan.
    static func begin(_ client: any TestClientProtocol, name: String, size: Int, chunkSize: Int? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let chunk = chunkSize.map { ", \"chunk_size\": \($0)" } ?? ""
        let response = try await client.post("/api/v1/file-upload/init", json: "{\"file_name\": \"\(name)\", \"file_size\": \(size)\(chunk)}")
        #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        return try #require(response.object()["upload_id"] as? String, sourceLocation: sourceLocation)
    }

    static func chunk(_ client: any TestClientProtocol, _ id: String, index: String?, _ bytes: ArraySlice<UInt8>) async throws -> TestResponse {
        var headers: [String: String] = ["Content-Type": "application/octet-stream"]
        headers["X-Chunk-Index"] = index
        return try await client.execute(uri: "/api/v1/file-upload/\(id)/chunk", method: .post,
                                        headers: .init(headers.map { HTTPField(name: .init($0.key)!, value: $0.value) }), body: ByteBuffer(bytes: bytes))
    }

    @Test("A model uploaded in chunks registers through POST /models {file_token}, equal to the original")
    func chunkedModel() async throws {
        let model = try Self.bigModel()
        let bytes = NativeFormat.encode(model)
        try await withController { service, client in
            // A chunk size below the minimum is raised to it.
            let plan = try await client.post("/api/v1/file-upload/init", json: "{\"file_name\": \"big.trbm\", \"file_size\": \(bytes.count), \"chunk_size\": 1000}")
            #expect(plan.status == .ok)
            let id = try #require(plan.object()["upload_id"] as? String)
            #expect(intValue(plan.object()["chunk_size"]) == Self.minChunk)
            #expect(intValue(plan.object()["total_chunks"]) == 2)

            let first = try await Self.chunk(client, id, index: "0", bytes[0..<Self.minChunk])
            #expect(first.status == .ok, "\(first.text)")
            #expect(intValue(first.object()["chunk_index"]) == 0)
            #expect(intValue(first.object()["bytes_received"]) == Self.minChunk)
            let second = try await Self.chunk(client, id, index: "1", bytes[Self.minChunk...])
            #expect(second.status == .ok, "\(second.text)")
            #expect(intValue(second.object()["bytes_received"]) == bytes.count)

            let complete = try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}")
            #expect(complete.status == .ok, "\(complete.text)")
            let token = try #require(complete.object()["file_token"] as? String)
            #expect(complete.object()["file_name"] as? String == "big.trbm")
            #expect(intValue(complete.object()["file_size"]) == bytes.count)
            // Completing again returns the same token until it is used.
            #expect(try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}").object()["file_token"] as? String == token)

            let created = try await client.post("/api/v1/models", json: "{\"file_token\": \"\(token)\", \"name\": \"big-v1\"}")
            #expect(created.status == .created, "\(created.text)")
            let modelId = try #require(created.object()["model_id"] as? String)
            #expect(created.object()["name"] as? String == "big-v1")
            #expect(try service.store.loadModel(id: modelId) == model)
            #expect(try NativeFormat.decode(try await client.get("/api/v1/models/\(modelId)/download").bytes) == model)

            // The token is used up; so is the upload.
            try await client.post("/api/v1/models/", json: "{\"file_token\": \"\(token)\"}").expectBadRequest(naming: "file_token")
            try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}").expectBadRequest(naming: "already used")
            #expect(try await client.get("/api/v1/models/count").integer() == 1)
        }
    }

    @Test("A one-chunk .npz upload takes its file name as the model name")
    func singleChunkNPZ() async throws {
        let model = try Fixtures.model(seed: 4)
        let bytes = try NPZ.encode(model)
        try await withController { service, client in
            let id = try await Self.begin(client, name: "seed.npz", size: bytes.count)
            #expect(try await Self.chunk(client, id, index: "0", bytes[...]).status == .ok)
            let token = try #require(try await client.post("/api/v1/file-upload/\(id)/complete", json: "").object()["file_token"] as? String)
            let created = try await client.post("/api/v1/models/", json: "{\"file_token\": \"\(token)\"}")
            #expect(created.status == .created, "\(created.text)")
            #expect(created.object()["name"] as? String == "seed.npz")
            #expect(try service.store.loadModel(id: try #require(created.object()["model_id"] as? String)) == model)
        }
    }

    @Test("Chunks out of order, without a valid X-Chunk-Index or of the wrong size are 400 and change nothing")
    func chunkRefused() async throws {
        let bytes = [UInt8](repeating: 7, count: Self.minChunk + 100)
        try await withController { _, client in
            let id = try await Self.begin(client, name: "f.bin", size: bytes.count, chunkSize: Self.minChunk)
            try await Self.chunk(client, id, index: "1", bytes[Self.minChunk...]).expectBadRequest(naming: "X-Chunk-Index")
            for index in [nil, "", "abc", "-1"] {
                try await Self.chunk(client, id, index: index, bytes[0..<Self.minChunk]).expectBadRequest(naming: "X-Chunk-Index", "\(index ?? "nil")")
            }
            try await Self.chunk(client, id, index: "0", bytes[0..<1000]).expectBadRequest(naming: "expected \(Self.minChunk)")
            try await Self.chunk(client, id, index: "0", bytes[0..<(Self.minChunk + 1)]).expectBadRequest(naming: "chunk 0")
            try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}").expectBadRequest(naming: "0 of 2")

            #expect(try await Self.chunk(client, id, index: "0", bytes[0..<Self.minChunk]).status == .ok)
            try await Self.chunk(client, id, index: "0", bytes[0..<Self.minChunk]).expectBadRequest(naming: "expected X-Chunk-Index 1")
            try await Self.chunk(client, id, index: "1", bytes[Self.minChunk..<(Self.minChunk + 99)]).expectBadRequest(naming: "expected 100")
            try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}").expectBadRequest(naming: "1 of 2")
            #expect(try await Self.chunk(client, id, index: "1", bytes[Self.minChunk...]).status == .ok)
            #expect(try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}").status == .ok)
            try await Self.chunk(client, id, index: "2", bytes[0..<1]).expectBadRequest(naming: "complete")
        }
    }

    @Test("Unknown and aborted uploads are 404 on every step")
    func unknownAndAborted() async throws {
        try await withController { _, client in
            for step in ["complete", "abort"] {
                try await client.post("/api/v1/file-upload/ghost-upload/\(step)", json: "{}").expectNotFound(naming: "upload_id")
            }
            try await Self.chunk(client, "ghost-upload", index: "0", [1, 2, 3]).expectNotFound(naming: "upload_id")

            let id = try await Self.begin(client, name: "f.bin", size: 10)
            let aborted = try await client.post("/api/v1/file-upload/\(id)/abort", json: "{}")
            #expect(aborted.status == .ok)
            #expect(aborted.message() == "Upload aborted")
            try await Self.chunk(client, id, index: "0", [UInt8](repeating: 1, count: 10)[...]).expectNotFound(naming: "upload_id")
            try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}").expectNotFound(naming: "upload_id")
            try await client.post("/api/v1/file-upload/\(id)/abort", json: "{}").expectNotFound(naming: "upload_id")
        }
    }

    @Test("A bad init is a 400 naming the field", arguments: [
        ("{\"file_size\": 10}", "file_name"), ("{\"file_name\": \"\", \"file_size\": 10}", "file_name"), ("{\"file_name\": \"f\"}", "file_size"),
        ("{\"file_name\": \"f\", \"file_size\": 0}", "file_size"), ("{\"file_name\": \"f\", \"file_size\": 2.5}", "file_size"),
        ("{\"file_name\": \"f\", \"file_size\": 1e12}", "file_size"), ("{\"file_name\": \"f\", \"file_size\": \"big\"}", "file_size"),
        ("{\"file_name\": \"f\", \"file_size\": 10, \"chunk_size\": \"x\"}", "chunk_size"),
        ("{\"file_name\": \"f\", \"file_size\": 10, \"chunk_size\": 1e300}", "chunk_size"),
    ])
    func initRefused(body: String, field: String) async throws {
        try await withController { _, client in
            try await client.post("/api/v1/file-upload/init", json: body).expectBadRequest(naming: field, "\(body)")
        }
    }

    @Test("POST /models with a bad token, or a token for a file that is not a model, is a 400")
    func badTokens() async throws {
        try await withController { _, client in
            try await client.post("/api/v1/models/", json: "{}").expectBadRequest(naming: "file_token")
            try await client.post("/api/v1/models/", json: "{\"file_token\": \"made-up\"}").expectBadRequest(naming: "file_token")
            let id = try await Self.begin(client, name: "junk.npz", size: 5)
            #expect(try await Self.chunk(client, id, index: "0", Array("hello".utf8)[...]).status == .ok)
            let token = try #require(try await client.post("/api/v1/file-upload/\(id)/complete", json: "{}").object()["file_token"] as? String)
            try await client.post("/api/v1/models/", json: "{\"file_token\": \"\(token)\"}").expectBadRequest(naming: "'file'")
            #expect(try await client.get("/api/v1/models/count").integer() == 0)
        }
    }
}
