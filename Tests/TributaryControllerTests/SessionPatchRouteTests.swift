import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Session PATCH and PUT, and the collection paths")
struct SessionPatchRouteTests {
    /// A session `s1` with rounds 3, local_epochs 2 and a description; returns its id.
    static func create(_ client: any TestClientProtocol, name: String = "s1") async throws -> String {
        let body = """
        {"name": "\(name)", "description": "first try", "session_config": {"rounds": 3, "round_timeout": 90, "training": {"local_epochs": 2}}}
        """
        let response = try await client.post("/api/v1/sessions/", json: body)
        #expect(response.status == .created, "\(response.text)")
        return try #require(response.object()["session_id"] as? String)
    }

    @Test("PATCH sets name and description and merges session_config, keeping what it leaves out")
    func patchMerges() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service)
            let id = try await Self.create(client)
            let response = try await client.patch("/api/v1/sessions/\(id)", json: """
                {"name": "renamed", "description": "second try", "session_id": "ignored",
                 "session_config": {"rounds": 7, "training": {"learning_rate": 0.05}}}
                """)
            #expect(response.status == .ok, "\(response.text)")
            let body = response.object()
            #expect(body["session_id"] as? String == id)
            #expect(body["name"] as? String == "renamed")
            #expect(body["description"] as? String == "second try")
            #expect(body["status"] as? String == "Created")
            let config = try #require(body["session_config"] as? [String: Any])
            #expect(intValue(config["rounds"]) == 7)
            #expect(intValue(config["round_timeout"]) == 90, "kept")
            #expect(config["model_id"] as? String == seed, "kept")
            let training = try #require(config["training"] as? [String: Any])
            #expect((training["learning_rate"] as? NSNumber)?.doubleValue == 0.05)
            #expect(intValue(training["local_epochs"]) == 2, "nested keys merge too")

            let stored = try #require(try service.store.fetch(SessionRecord.self, id: id))
            #expect(stored.name == "renamed" && stored.sessionConfig.rounds == 7 && stored.sessionConfig.training.localEpochs == 2)
            #expect(try await client.get("/api/v1/sessions/?name=renamed").listed("session_id") == [id])
            #expect(try await client.get("/api/v1/sessions?name=renamed").listed("session_id") == [id])
            #expect(try await client.get("/api/v1/sessions/?name=s1").list().count == 0)

            // Only the description: everything else stays.
            let described = try await client.patch("/api/v1/sessions/\(id)", json: "{\"description\": null}")
            #expect(described.object()["description"] is NSNull)
            #expect(described.object()["name"] as? String == "renamed")
        }
    }

    @Test("PATCH status: a known status is stored; anything else is a 400")
    func patchStatus() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let id = try await Self.create(client)
            for status in ["Finished", "Terminated", "Failed", "Created"] {
                let response = try await client.patch("/api/v1/sessions/\(id)", json: "{\"status\": \"\(status)\"}")
                #expect(response.status == .ok, "\(status): \(response.text)")
                #expect(response.object()["status"] as? String == status)
                #expect(try await client.get("/api/v1/sessions/count?status=\(status)").integer() == 1)
            }
            // Started only through /sessions/start: a session marked Started would be resumed at the next controller start.
            for bad in ["\"finished\"", "\"Paused\"", "1", "\"Started\""] {
                try await client.patch("/api/v1/sessions/\(id)", json: "{\"status\": \(bad)}").expectBadRequest(naming: "status", "\(bad)")
            }
            #expect(try service.store.fetch(SessionRecord.self, id: id)?.status == .created)
        }
    }

    @Test("PATCH and PUT refusals are a 400 naming the field; an unknown id is 404", arguments: [
        ("{\"rounds\": 3}", "rounds"), ("{\"committed_at\": \"2020-01-01\"}", "committed_at"), ("{\"name\": \"\"}", "name"),
        ("{\"name\": 5}", "name"), ("{\"session_config\": {\"rounds\": 0}}", "session_config.rounds"),
        ("{\"session_config\": {\"aggregator\": \"nope\"}}", "session_config.aggregator"), ("{\"session_config\": [1]}", "session_config"),
        ("{\"seed_model_id\": \"ghost-model\"}", "seed_model_id"), ("{\"name\": \"taken\"}", "taken"), ("[1]", "JSON object"),
    ])
    func refused(body: String, field: String) async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let id = try await Self.create(client)
            _ = try await Self.create(client, name: "taken")
            let before = try #require(try service.store.fetch(SessionRecord.self, id: id))
            try await client.patch("/api/v1/sessions/\(id)", json: body).expectBadRequest(naming: field, "PATCH \(body)")
            let putBody = body.hasPrefix("{\"name\"") || body == "[1]" ? body : String(body.dropLast()) + ", \"name\": \"s1\"}"
            try await client.put("/api/v1/sessions/\(id)", json: putBody).expectBadRequest(naming: field, "PUT \(putBody)")
            #expect(try service.store.fetch(SessionRecord.self, id: id) == before, "a refused update changes nothing")
            try await client.patch("/api/v1/sessions/ghost-session", json: "{\"name\": \"x\"}").expectNotFound(naming: "ghost-session")
            try await client.put("/api/v1/sessions/ghost-session", json: "{\"name\": \"x\"}").expectNotFound(naming: "ghost-session")
        }
    }

    @Test("PUT replaces: name required, description and session_config reset; a new seed model is taken")
    func put() async throws {
        try await withController { service, client in
            let first = try Fixtures.storeModel(service, seed: 1)
            let id = try await Self.create(client)
            let second = try Fixtures.storeModel(service, seed: 2)
            try await client.put("/api/v1/sessions/\(id)", json: "{\"description\": \"x\"}").expectBadRequest(naming: "name")

            let response = try await client.put("/api/v1/sessions/\(id)", json: "{\"name\": \"replaced\"}")
            #expect(response.status == .ok, "\(response.text)")
            var body = response.object()
            #expect(body["name"] as? String == "replaced")
            #expect(body["description"] is NSNull)
            var config = try #require(body["session_config"] as? [String: Any])
            #expect(intValue(config["rounds"]) == 5, "back to the default")
            #expect(intValue(config["round_timeout"]) == 180)
            #expect(config["model_id"] as? String == first)

            body = try await client.put("/api/v1/sessions/\(id)", json: "{\"name\": \"replaced\", \"seed_model_id\": \"\(second)\", \"session_config\": {\"rounds\": 2}}").object()
            #expect(body["seed_model_id"] as? String == second)
            config = try #require(body["session_config"] as? [String: Any])
            #expect(config["model_id"] as? String == second)
            #expect(intValue(config["rounds"]) == 2)
            #expect(try service.store.fetch(SessionRecord.self, id: id)?.seedModelId == second)
        }
    }

    @Test("The collection answers with and without the trailing slash, for list, count and create")
    func collectionPaths() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            #expect(try await client.post("/api/v1/sessions", json: "{\"name\": \"a\"}").status == .created)
            #expect(try await client.post("/api/v1/sessions/", json: "{\"name\": \"b\"}").status == .created)
            for path in ["/api/v1/sessions", "/api/v1/sessions/"] {
                #expect(Set(try await client.get(path).listed("name")) == ["a", "b"], "\(path)")
                #expect(try await client.get("\(path)?name=b").listed("name") == ["b"], "\(path)")
            }
            #expect(try await client.get("/api/v1/sessions/count/").integer() == 2)
            // A body beyond the JSON limit (1 MiB) is a 413 with a JSON message, not a 500.
            let huge = "{\"name\": \"" + String(repeating: "x", count: 1 << 20) + "\"}"
            let tooLarge = try await client.post("/api/v1/sessions/", json: huge)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.message().contains("too large"))
            #expect(try await client.post("/api/v1/sessions/list/", json: "{\"name\": \"a,b,c\"}").list().count == 2)
        }
    }
}
