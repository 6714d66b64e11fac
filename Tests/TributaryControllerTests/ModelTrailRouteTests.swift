import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

@Suite("Model metadata updates, trail, parameters and npz download")
struct ModelTrailRouteTests {
    /// root ← m1 ← m2 ← m3, a branch m1 ← b2, and a lone model; committed a second apart in that order.
    struct Trail {
        var ids: [String: String] = [:]
        subscript(_ name: String) -> String { ids[name] ?? "<\(name)>" }
    }

    static func seed(_ service: ControllerService) throws -> Trail {
        var trail = Trail()
        let plan: [(String, String?)] = [("root", nil), ("m1", "root"), ("m2", "m1"), ("b2", "m1"), ("m3", "m2"), ("lone", nil)]
        for (i, (name, parent)) in plan.enumerated() {
            var record = try service.store.storeModel(try Fixtures.model(seed: Float(i + 1)), parent: parent.map { trail[$0] }, sessionId: nil,
                                                      roundNumber: nil, name: name)
            record.committedAt = Fixtures.time(Double(i))
            record.updatedAt = record.committedAt
            try service.store.save(record)
            trail.ids[name] = record.modelId
        }
        return trail
    }

    static func names(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        return (response.json(sourceLocation: sourceLocation) as? [[String: Any]] ?? []).map { $0["name"] as? String ?? "?" }
    }

    @Test("Ancestors: nearest first, include_self, X-Limit (counting self), X-Reverse")
    func ancestors() async throws {
        try await withController { service, client in
            let t = try Self.seed(service)
            let path = "/api/v1/models/\(t["m3"])/ancestors"
            let cases: [(String, [String: String], [String])] = [
                ("", [:], ["m2", "m1", "root"]), ("?include_self=true", [:], ["m3", "m2", "m1", "root"]),
                ("?include_self=false", [:], ["m2", "m1", "root"]), ("?include_self=true", ["X-Limit": "2"], ["m3", "m2"]),
                ("", ["X-Limit": "1"], ["m2"]), ("?include_self=true", ["X-Reverse": "true"], ["root", "m1", "m2", "m3"]),
                ("?include_self=true", ["X-Reverse": "true", "X-Limit": "3"], ["m1", "m2", "m3"]), ("", ["X-Reverse": "false"], ["m2", "m1", "root"]),
            ]
            for (query, headers, expected) in cases {
                #expect(Self.names(try await client.get(path + query, headers: headers)) == expected, "\(query) \(headers)")
            }
            #expect(Self.names(try await client.get("/api/v1/models/\(t["root"])/ancestors")) == [])
            #expect(Self.names(try await client.get("/api/v1/models/\(t["root"])/ancestors?include_self=true")) == ["root"])
            let first = try #require((try await client.get(path).json() as? [[String: Any]])?.first)
            #expect(first["model_id"] as? String == t["m2"] && first["model"] as? String == t["m2"])
            #expect(first["parent_model"] as? String == t["m1"])
            try await client.get("/api/v1/models/ghost-model/ancestors").expectNotFound(naming: "ghost-model")
            try await client.get(path + "?include_self=maybe").expectBadRequest(naming: "include_self")
            try await client.get(path, headers: ["X-Limit": "many"]).expectBadRequest(naming: "X-Limit")
        }
    }

    @Test("Descendants by depth, X-Limit; leaf nodes newest first")
    func descendantsAndLeaves() async throws {
        try await withController { service, client in
            let t = try Self.seed(service)
            #expect(Self.names(try await client.get("/api/v1/models/\(t["root"])/descendants")) == ["m1", "m2", "b2", "m3"])
            #expect(Self.names(try await client.get("/api/v1/models/\(t["root"])/descendants", headers: ["X-Limit": "2"])) == ["m1", "m2"])
            #expect(Self.names(try await client.get("/api/v1/models/\(t["m2"])/descendants")) == ["m3"])
            #expect(Self.names(try await client.get("/api/v1/models/\(t["m3"])/descendants")) == [])
            try await client.get("/api/v1/models/ghost-model/descendants").expectNotFound(naming: "ghost-model")

            #expect(Self.names(try await client.get("/api/v1/models/leaf-nodes")) == ["lone", "m3", "b2"])
            #expect(Self.names(try await client.get("/api/v1/models/leaf-nodes", headers: ["X-Limit": "2"])) == ["lone", "m3"])
        }
    }

    @Test("PATCH sets name and parent; a loop, a self-parent or an unknown parent is refused")
    func patch() async throws {
        try await withController { service, client in
            let t = try Self.seed(service)
            let renamed = try await client.patch("/api/v1/models/\(t["lone"])", json: "{\"name\": \"adopted\", \"model_id\": \"ignored\", \"model\": \"ignored\"}")
            #expect(renamed.status == .ok, "\(renamed.text)")
            #expect(renamed.object()["name"] as? String == "adopted")
            #expect(renamed.object()["model_id"] as? String == t["lone"])
            #expect(renamed.object()["parent_model"] is NSNull)

            let adopted = try await client.patch("/api/v1/models/\(t["lone"])", json: "{\"parent_model\": \"\(t["m3"])\"}")
            #expect(adopted.status == .ok)
            #expect(adopted.object()["parent_model"] as? String == t["m3"])
            #expect(adopted.object()["name"] as? String == "adopted", "PATCH keeps fields left out")
            #expect(Self.names(try await client.get("/api/v1/models/\(t["lone"])/ancestors")) == ["m3", "m2", "m1", "root"])
            #expect(Self.names(try await client.get("/api/v1/models/leaf-nodes")) == ["adopted", "b2"])

            for (parent, why) in [(t["lone"], "descendant"), (t["m1"], "descendant"), (t["root"], "self"), ("ghost", "unknown")] {
                try await client.patch("/api/v1/models/\(t["root"])", json: "{\"parent_model\": \"\(parent)\"}").expectBadRequest(naming: "parent_model", "\(why)")
            }
            #expect(try service.store.fetch(ModelRecord.self, id: t["root"])?.parentModel == nil)
            try await client.patch("/api/v1/models/\(t["m1"])", json: "{\"checksum\": \"00\"}").expectBadRequest(naming: "checksum")
            try await client.patch("/api/v1/models/\(t["m1"])", json: "{\"session_id\": \"ghost-session\"}").expectBadRequest(naming: "session_id")
            try await client.patch("/api/v1/models/\(t["m1"])", json: "{\"name\": 3}").expectBadRequest(naming: "name")
            try await client.patch("/api/v1/models/ghost-model", json: "{\"name\": \"x\"}").expectNotFound(naming: "ghost-model")
        }
    }

    @Test("PUT sets all metadata: fields left out become null; a session id must exist")
    func put() async throws {
        try await withController { service, client in
            let t = try Self.seed(service)
            let session = SessionRecord(sessionId: Store.newId(), name: "s", seedModelId: t["root"], config: SessionConfig())
            try service.store.insert(session)
            let put = try await client.put("/api/v1/models/\(t["m2"])", json: "{\"name\": \"second\", \"session_id\": \"\(session.sessionId)\"}")
            #expect(put.status == .ok, "\(put.text)")
            let body = put.object()
            #expect(body["name"] as? String == "second")
            #expect(body["session_id"] as? String == session.sessionId)
            #expect(body["parent_model"] is NSNull, "PUT without parent_model clears it")
            #expect(try await client.get("/api/v1/models/?session_id=\(session.sessionId)").listed("name") == ["second"])
            #expect(Self.names(try await client.get("/api/v1/models/\(t["m3"])/ancestors")) == ["second"])

            let cleared = try await client.put("/api/v1/models/\(t["m2"])", json: "{}")
            #expect(cleared.object()["name"] is NSNull && cleared.object()["session_id"] is NSNull)
            try await client.put("/api/v1/models/\(t["m2"])", json: "{\"parent_model\": \"\(t["m3"])\"}").expectBadRequest(naming: "parent_model")
            try await client.put("/api/v1/models/ghost-model", json: "{}").expectNotFound(naming: "ghost-model")
        }
    }

    @Test("/parameters renders the values as nested arrays by shape, with tensor names")
    func parameters() async throws {
        let model = try Fixtures.model(seed: 2)
        try await withController { service, client in
            let id = try service.store.storeModel(model, parent: nil, sessionId: nil, roundNumber: nil, name: nil).modelId
            let response = try await client.get("/api/v1/models/\(id)/parameters")
            #expect(response.status == .ok)
            let body = response.object()
            #expect(body["names"] as? [String] == ["dense/kernel", "dense/bias"])
            let arrays = try #require(body["array"] as? [Any])
            let kernel = try #require(arrays.first as? [[NSNumber]])
            let bias = try #require(arrays.last as? [NSNumber])
            let expectedKernel = try model.float32s("dense/kernel").map(Double.init)
            #expect(kernel.count == 2 && kernel.allSatisfy { $0.count == 3 })
            #expect(kernel.flatMap { $0.map(\.doubleValue) } == expectedKernel)
            #expect(bias.map(\.doubleValue) == (try model.float32s("dense/bias")).map(Double.init))
            try await client.get("/api/v1/models/ghost-model/parameters").expectNotFound(naming: "ghost-model")
        }
    }

    @Test("/download?format=npz decodes to the same model; a model with no helper of its own follows the active one, numpyhelper by default")
    func downloadFormats() async throws {
        let model = try Fixtures.model(seed: 6)
        try await withController { service, client in
            let id = try service.store.storeModel(model, parent: nil, sessionId: nil, roundNumber: nil, name: nil).modelId
            let npz = try await client.get("/api/v1/models/\(id)/download?format=npz")
            #expect(npz.status == .ok)
            #expect(npz.headers[.contentDisposition]?.contains("\(id).npz") == true)
            #expect(try NPZ.decode(npz.bytes) == model)
            #expect(try NativeFormat.decode(try await client.get("/api/v1/models/\(id)/download?format=native").bytes) == model)
            try await client.get("/api/v1/models/\(id)/download?format=pickle").expectBadRequest(naming: "format")

            #expect(try NPZ.decode(try await client.get("/api/v1/models/\(id)/download").bytes) == model)
            #expect(try await client.put("/api/v1/helpers/active", json: "{\"helper\": \"numpyhelper\"}").status == .ok)
            #expect(try NPZ.decode(try await client.get("/api/v1/models/\(id)/download").bytes) == model)
            #expect(try await client.put("/api/v1/helpers/active", json: "{\"helper\": \"binaryhelper\"}").status == .ok)
            #expect(try NativeFormat.decode(try await client.get("/api/v1/models/\(id)/download").bytes) == model)
        }
    }
}
