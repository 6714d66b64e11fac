import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Session create and start")
struct SessionRouteTests {
    @Test("POST /api/v1/sessions/ creates a session: 201, generated id, defaults filled in")
    func create() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service)
            let body = """
            {"name": "s1", "seed_model_id": "\(seed)", "session_config": {"rounds": 3, "training": {"local_epochs": 2}}}
            """
            let response = try await client.post("/api/v1/sessions/", json: body)
            #expect(response.status == .created, "\(response.text)")
            let session = response.object()
            let id = try #require(session["session_id"] as? String)
            #expect(!id.isEmpty)
            #expect(session["name"] as? String == "s1")
            #expect(session["status"] as? String == "Created")
            #expect(session["seed_model_id"] as? String == seed)
            let config = try #require(session["session_config"] as? [String: Any])
            #expect(intValue(config["rounds"]) == 3)
            #expect(config["aggregator"] as? String == "fedavg")
            #expect(intValue(config["round_timeout"]) == 180)
            #expect(intValue(config["clients_required"]) == 1)
            #expect(intValue(config["buffer_size"]) == -1)
            #expect(config["helper_type"] as? String == "numpyhelper")
            #expect(config["model_id"] as? String == seed)
            #expect(config["validate"] as? Bool == true)
            let training = try #require(config["training"] as? [String: Any])
            #expect(intValue(training["local_epochs"]) == 2)
            #expect((training["learning_rate"] as? NSNumber)?.doubleValue == 0.1)

            let stored = try #require(try service.store.fetch(SessionRecord.self, id: id))
            #expect(stored.name == "s1" && stored.sessionConfig.rounds == 3 && stored.sessionConfig.training.localEpochs == 2)
            let fetched = try await client.get("/api/v1/sessions/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched.object()["session_id"] as? String == id)
            #expect(try await client.get("/api/v1/sessions/?name=s1").listed("session_id") == [id])
        }
    }

    @Test("Without a seed model id or a name, the latest model and a generated name are used")
    func createWithDefaults() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service, seed: 1)
            let latest = try Fixtures.storeModel(service, seed: 2)
            for path in ["/api/v1/sessions/", "/api/v1/sessions"] {
                let response = try await client.post(path, json: "{}")
                #expect(response.status == .created, "\(path): \(response.text)")
                let session = response.object()
                #expect(session["seed_model_id"] as? String == latest)
                #expect((session["name"] as? String)?.isEmpty == false)
            }
            #expect(try await client.get("/api/v1/sessions/count").integer() == 2)
        }
    }

    @Test("An invalid session_config is a 400 naming the field", arguments: [
        ("{\"aggregator\": \"nope\"}", "aggregator"),
        ("{\"round_timeout\": 0}", "round_timeout"),
        ("{\"round_timeout\": -5}", "round_timeout"),
        ("{\"rounds\": 0}", "rounds"),
        ("{\"buffer_size\": 0}", "buffer_size"),
        ("{\"clients_required\": 0}", "clients_required"),
        ("{\"training\": {\"learning_rate\": -1}}", "learning_rate"),
        ("{\"training\": {\"local_epochs\": 0}}", "local_epochs"),
        ("{\"rounds\": \"many\"}", "rounds"),
        ("{\"secure_aggregation\": {\"num_shares\": 4}}", "secure_aggregation.num_shares"),
        ("{\"secure_aggregation\": {\"reconstruction_threshold\": 9}}", "secure_aggregation.reconstruction_threshold"),
        ("{\"secure_aggregation\": {\"modulus_range\": 1000}}", "secure_aggregation.modulus_range"),
        ("{\"secure_aggregation\": {\"clipping_range\": 0}}", "secure_aggregation.clipping_range"),
        ("{\"secure_aggregation\": {}, \"aggregator\": \"fedmedian\"}", "secure_aggregation"),
        ("{\"secure_aggregation\": {}, \"aggregator\": \"krum\"}", "individual update"),
    ])
    func invalidConfig(config: String, field: String) async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let response = try await client.post("/api/v1/sessions/", json: "{\"name\": \"bad\", \"session_config\": \(config)}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains(field), "\(config)")
            #expect(try await client.get("/api/v1/sessions/count").integer() == 0)
        }
    }

    @Test("An unknown seed model (or none at all) is a 400")
    func unknownSeedModel() async throws {
        try await withController { service, client in
            var response = try await client.post("/api/v1/sessions/", json: "{\"name\": \"no-models\"}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("seed_model_id"))

            _ = try Fixtures.storeModel(service)
            response = try await client.post("/api/v1/sessions/", json: "{\"name\": \"s\", \"seed_model_id\": \"ghost\"}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("ghost"))

            response = try await client.post("/api/v1/sessions/", json: "{\"name\": \"s\", \"session_config\": {\"model_id\": \"ghost\"}}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("ghost"))
            #expect(try await client.get("/api/v1/sessions/count").integer() == 0)
        }
    }

    @Test("A duplicate session name is a 400")
    func duplicateName() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            #expect(try await client.post("/api/v1/sessions/", json: "{\"name\": \"twin\"}").status == .created)
            let second = try await client.post("/api/v1/sessions/", json: "{\"name\": \"twin\"}")
            #expect(second.status == .badRequest)
            #expect(second.message().contains("twin"))
            #expect(try await client.get("/api/v1/sessions/count").integer() == 1)
        }
    }

    @Test("Concurrent creates with one name: one 201, the others 400 (never 500)")
    func concurrentDuplicateName() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await client.post("/api/v1/sessions/", json: "{\"name\": \"race\"}").status.code }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 1)
            #expect(try await client.get("/api/v1/sessions/count").integer() == 1)
            // Known bug: the name check and the insert are not atomic; a loser hits the UNIQUE
            // index and gets 500 (SessionRoutes.swift, POST /api/v1/sessions).
            #expect(statuses.allSatisfy { $0 == 201 || $0 == 400 }, "\(statuses.sorted())")
            #expect(statuses.filter { $0 == 201 }.count == 1)
        }
    }

    @Test("A body that is not valid JSON is a 400", arguments: ["", "{", "not json", "[1]", "{\"name\": 5}"])
    func invalidJSON(body: String) async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let response = try await client.post("/api/v1/sessions/", json: body)
            #expect(response.status == .badRequest, "\(body)")
            #expect(!response.message().isEmpty)
        }
    }

    @Test("Start: unknown session is a 404")
    func startUnknown() async throws {
        try await withController { _, client in
            let response = try await client.post("/api/v1/sessions/start", json: "{\"session_id\": \"ghost\"}")
            #expect(response.status == .notFound)
            #expect(response.message().contains("ghost"))
        }
    }

    @Test("Start: with no clients online it is a 400 and the session stays Created")
    func startWithoutClients() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let created = try await client.post("/api/v1/sessions/", json: "{\"name\": \"lonely\"}")
            let id = try #require(created.object()["session_id"] as? String)
            // A combiner online without clients is still no client.
            try await Fixtures.registerCombiner(service, "comb-a", port: 7400)
            try await Fixtures.heartbeat(service, "comb-a", clients: [])
            let response = try await client.post("/api/v1/sessions/start", json: "{\"session_id\": \"\(id)\"}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("lower than the required minimum"))
            #expect(try service.store.fetch(SessionRecord.self, id: id)?.status == .created)
        }
    }

    @Test("Start: missing session_id, bad overrides or bad JSON are 400s", arguments: [
        "{}", "{\"session_id\": 7}", "not json", "", "{\"session_id\": \"x\", \"rounds\": 0}", "{\"session_id\": \"x\", \"round_timeout\": 0}",
    ])
    func startBadRequest(body: String) async throws {
        try await withController { _, client in
            let response = try await client.post("/api/v1/sessions/start", json: body)
            #expect(response.status == .badRequest, "\(body)")
            #expect(!response.message().isEmpty)
            if body == "{}" { #expect(response.message().contains("session_id")) }
        }
    }
}
