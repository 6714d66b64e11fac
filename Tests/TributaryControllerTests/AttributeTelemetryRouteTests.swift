import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Attributes and telemetry: POST, current values, filters")
struct AttributeTelemetryRouteTests {
    @Test("POST /attributes is 201 with the sender resolved; list, count and get by id")
    func postAttribute() async throws {
        try await withController { service, client in
            try Fixtures.saveClient(service, "site-1", name: "Site One")
            let response = try await client.post("/api/v1/attributes/", json: "{\"key\": \"gpu\", \"value\": \"a100\", \"sender\": {\"client_id\": \"site-1\"}}")
            #expect(response.status == .created, "\(response.text)")
            let created = response.object()
            let id = try #require(created["attribute_id"] as? String)
            #expect(created["key"] as? String == "gpu")
            #expect(created["value"] as? String == "a100")
            let sender = try #require(created["sender"] as? [String: Any])
            #expect(sender["client_id"] as? String == "site-1" && sender["name"] as? String == "Site One" && sender["role"] as? String == "client")
            // A number is stored as its text (FEDn's values are strings).
            let numeric = try await client.post("/api/v1/attributes", json: "{\"key\": \"cores\", \"value\": 16, \"sender\": {\"client_id\": \"site-1\"}}")
            #expect(numeric.status == .created)
            #expect(numeric.object()["value"] as? String == "16")

            let fetched = try await client.get("/api/v1/attributes/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched.object()["value"] as? String == "a100")
            #expect(try await client.get("/api/v1/attributes/?key=gpu").listed("attribute_id") == [id])
            #expect(try await client.get("/api/v1/attributes/count?sender.client_id=site-1").integer() == 2)
            #expect(try await client.post("/api/v1/attributes/list", json: "{\"key\": \"gpu,cores\"}").list().count == 2)
            #expect(try await client.post("/api/v1/attributes/count", json: "{\"value\": [\"16\"]}").integer() == 1)
            try await client.get("/api/v1/attributes/ghost-attr").expectNotFound(naming: "ghost-attr")
        }
    }

    @Test("A bad POST /attributes is a 400 naming the field", arguments: [
        ("{\"value\": \"a\", \"sender\": {\"client_id\": \"site-1\"}}", "key"),
        ("{\"key\": \"gpu\", \"sender\": {\"client_id\": \"site-1\"}}", "value"),
        ("{\"key\": \"gpu\", \"value\": null, \"sender\": {\"client_id\": \"site-1\"}}", "value"),
        ("{\"key\": \"gpu\", \"value\": \"a\"}", "sender"),
        ("{\"key\": \"gpu\", \"value\": \"a\", \"sender\": {\"client_id\": \"ghost\"}}", "sender.client_id"),
        ("{\"key\": 5, \"value\": \"a\", \"sender\": {\"client_id\": \"site-1\"}}", "key"),
        ("{\"key\": \"gpu\", \"value\": \"a\", \"sender\": {\"client_id\": \"site-1\"}, \"owner\": \"me\"}", "owner"),
    ])
    func attributeRefused(body: String, field: String) async throws {
        try await withController { service, client in
            try Fixtures.saveClient(service, "site-1")
            try await client.post("/api/v1/attributes/", json: body).expectBadRequest(naming: field, "\(body)")
            #expect(try await client.get("/api/v1/attributes/count").integer() == 0)
        }
    }

    /// site-1: gpu v100 (t0) → a100 (t2), os linux (t1); site-2: gpu t4 (t3); site-3 nothing.
    static func seedAttributes(_ service: ControllerService) throws {
        for id in ["site-1", "site-2", "site-3"] { try Fixtures.saveClient(service, id) }
        for (i, (client, key, value)) in [("site-1", "gpu", "v100"), ("site-1", "os", "linux"), ("site-1", "gpu", "a100"), ("site-2", "gpu", "t4")].enumerated() {
            try service.store.insert(AttributeRecord(key: key, value: value, sender: .client(client), now: Fixtures.time(Double(i))))
        }
    }

    @Test("GET /clients/{id}/attributes is the latest value per key; unknown client is 404")
    func clientAttributes() async throws {
        try await withController { service, client in
            try Self.seedAttributes(service)
            let response = try await client.get("/api/v1/clients/site-1/attributes")
            #expect(response.status == .ok)
            #expect(response.object() as? [String: String] == ["gpu": "a100", "os": "linux"])
            #expect(try await client.get("/api/v1/clients/site-2/attributes").object() as? [String: String] == ["gpu": "t4"])
            #expect(try await client.get("/api/v1/clients/site-3/attributes").object().isEmpty)
            try await client.get("/api/v1/clients/ghost/attributes").expectNotFound(naming: "ghost")
            // A newer report through the API replaces the value.
            let posted = try await client.post("/api/v1/attributes/", json: "{\"key\": \"os\", \"value\": \"macos\", \"sender\": {\"client_id\": \"site-1\"}}")
            #expect(posted.status == .created)
            #expect(try await client.get("/api/v1/clients/site-1/attributes").object() as? [String: String] == ["gpu": "a100", "os": "macos"])
        }
    }

    @Test("POST /attributes/current: per client id (client_ids or entity_ids), unknown ids named")
    func currentAttributes() async throws {
        try await withController { service, client in
            try Self.seedAttributes(service)
            for key in ["client_ids", "entity_ids"] {
                let response = try await client.post("/api/v1/attributes/current", json: "{\"\(key)\": [\"site-1\", \"site-3\", \"ghost\"]}")
                #expect(response.status == .ok, "\(key): \(response.text)")
                let body = response.object()
                #expect(Set(body.keys) == ["site-1", "site-3", "ghost"])
                #expect(body["site-1"] as? [String: String] == ["gpu": "a100", "os": "linux"])
                #expect((body["site-3"] as? [String: String])?.isEmpty == true)
                #expect(body["ghost"] as? String == "Entity with client_id: ghost not found")
            }
            #expect(try await client.post("/api/v1/attributes/current", json: "{\"client_ids\": []}").object().isEmpty)
            for body in ["{}", "{\"client_ids\": \"site-1\"}", "{\"client_ids\": [1, 2]}"] {
                try await client.post("/api/v1/attributes/current", json: body).expectBadRequest(naming: "client_ids", "\(body)")
            }
        }
    }

    @Test("POST /telemetry is 201; client_id resolves the sender; meta is kept as JSON text")
    func postTelemetry() async throws {
        try await withController { service, client in
            try Fixtures.saveClient(service, "site-1", name: "Site One")
            let body = "{\"key\": \"cpu_usage\", \"value\": 0.42, \"client_id\": \"site-1\", \"session_id\": \"s1\", \"meta\": {\"host\": \"h1\", \"cores\": 8}}"
            let response = try await client.post("/api/v1/telemetry/", json: body)
            #expect(response.status == .created, "\(response.text)")
            let created = response.object()
            let id = try #require(created["telemetry_id"] as? String)
            #expect(created["key"] as? String == "cpu_usage")
            #expect((created["value"] as? NSNumber)?.doubleValue == 0.42)
            #expect(created["client_id"] as? String == "site-1")
            #expect(created["session_id"] as? String == "s1")
            #expect(created["meta"] as? String == "{\"cores\":8,\"host\":\"h1\"}")
            #expect(created["timestamp"] != nil)
            let sender = try #require(created["sender"] as? [String: Any])
            #expect(sender["client_id"] as? String == "site-1" && sender["name"] as? String == "Site One")
            // A sender object alone fills client_id; no sender at all is allowed (e.g. the controller's own readings).
            let viaSender = try await client.post("/api/v1/telemetry", json: "{\"key\": \"mem\", \"value\": 3, \"sender\": {\"client_id\": \"site-1\"}}")
            #expect(viaSender.status == .created)
            #expect(viaSender.object()["client_id"] as? String == "site-1")
            let anonymous = try await client.post("/api/v1/telemetry", json: "{\"key\": \"uptime\"}")
            #expect(anonymous.status == .created, "\(anonymous.text)")
            #expect(anonymous.object()["value"] is NSNull)
            #expect(anonymous.object()["client_id"] is NSNull)

            let fetched = try await client.get("/api/v1/telemetry/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched.object()["telemetry_id"] as? String == id)
            try await client.get("/api/v1/telemetry/ghost-reading").expectNotFound(naming: "ghost-reading")
        }
    }

    @Test("A bad POST /telemetry is a 400 naming the field", arguments: [
        ("{\"value\": 1}", "key"), ("{\"key\": \"cpu\", \"value\": \"high\"}", "value"), ("{\"key\": \"cpu\", \"value\": true}", "value"),
        ("{\"key\": \"cpu\", \"meta\": \"text\"}", "meta"), ("{\"key\": \"cpu\", \"meta\": [1]}", "meta"),
        ("{\"key\": \"cpu\", \"client_id\": \"ghost\"}", "ghost"), ("{\"key\": \"cpu\", \"sender\": {\"client_id\": \"ghost\"}}", "sender.client_id"),
        ("{\"key\": \"cpu\", \"unit\": \"%\"}", "unit"),
    ])
    func telemetryRefused(body: String, field: String) async throws {
        try await withController { service, client in
            try Fixtures.saveClient(service, "site-1")
            try await client.post("/api/v1/telemetry", json: body).expectBadRequest(naming: field, "\(body)")
            #expect(try await client.get("/api/v1/telemetry/count").integer() == 0)
        }
    }

    @Test("Telemetry filters: key, value operators, client and sender, POST /list IN, paging")
    func telemetryFilters() async throws {
        try await withController { service, client in
            for id in ["site-1", "site-2"] { try Fixtures.saveClient(service, id) }
            let readings: [(String, Double, String)] = [("cpu", 0.2, "site-1"), ("cpu", 0.7, "site-1"), ("mem", 0.5, "site-2"), ("cpu", 0.9, "site-2")]
            for (i, (key, value, id)) in readings.enumerated() {
                try service.store.insert(TelemetryRecord(key: key, value: value, clientId: id, sessionId: nil, meta: nil, sender: .client(id),
                                                         now: Fixtures.time(Double(i))))
            }
            let cases: [(String, [String])] = [
                ("key=cpu", ["0.9", "0.7", "0.2"]), ("value__gte=0.5", ["0.9", "0.5", "0.7"]), ("value__lt=0.5", ["0.2"]),
                ("clientId=site-2", ["0.9", "0.5"]), ("sender.client_id=site-1&key=cpu", ["0.7", "0.2"]), ("session_id=null", ["0.9", "0.5", "0.7", "0.2"]),
            ]
            for (query, expected) in cases {
                let response = try await client.get("/api/v1/telemetry/?\(query)")
                #expect(response.listed("value") == expected, "\(query): \(response.text)")
                #expect(try await client.get("/api/v1/telemetry/count?\(query)").integer() == expected.count, "\(query)")
            }
            let listed = try await client.post("/api/v1/telemetry/list", json: "{\"key\": \"cpu,mem\", \"client_id\": [\"site-2\"]}",
                                               headers: ["X-Sort-Key": "value", "X-Sort-Order": "asc"])
            #expect(listed.listed("value") == ["0.5", "0.9"])
            let page = try await client.get("/api/v1/telemetry/", headers: ["X-Sort-Key": "value", "X-Limit": "2", "X-Skip": "1"])
            #expect(page.list().count == 4)
            #expect(page.listed("value") == ["0.7", "0.5"])
        }
    }
}
