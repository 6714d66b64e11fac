import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Control routes, prediction start and controller status")
struct ControlRouteTests {
    @Test("GET /get_controller_status is idle when nothing runs; /metrics is Prometheus text")
    func rootRoutes() async throws {
        try await withController { _, client in
            let response = try await client.get("/get_controller_status")
            #expect(response.status == .ok)
            #expect(response.object() as? [String: String] == ["state": "idle"])
            let metrics = try await client.get("/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
        }
    }

    @Test("POST /control/skip and /continue with no open job are a 400 JSON message; nothing is recorded", arguments: ["skip", "continue"])
    func skipWithoutJob(route: String) async throws {
        try await withController { _, client in
            let response = try await client.post("/api/v1/control/\(route)", json: "{}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("nothing to skip"))
            #expect(try await client.get("/api/v1/statuses/count?type=BARRIER_SKIPPED").integer() == 0)
        }
    }

    @Test("POST /control/stop with nothing running says so")
    func stopWithoutSession() async throws {
        try await withController { _, client in
            let response = try await client.post("/api/v1/control/stop", json: "")
            #expect(response.status == .ok)
            #expect(response.message() == "No session is running")
            #expect(try await client.get("/api/v1/statuses/count?type=SESSION_STOP_REQUESTED").integer() == 0)
        }
    }

    @Test("run_command: a name gets the Custom_ prefix, is pending with a correlation id and recorded as a COMMAND status")
    func runCommand() async throws {
        try await withController { _, client in
            let response = try await client.post("/api/v1/control/run_command", json: "{\"command_type\": \"DoThing\", \"paramA\": \"v\", \"paramB\": 123}")
            #expect(response.status == .ok, "\(response.text)")
            let body = response.object()
            #expect(body["message"] as? String == "Command Custom_DoThing is pending")
            let correlation = try #require(body["correlation_id"] as? String)
            #expect(!correlation.isEmpty)

            let events = try await client.get("/api/v1/statuses/?correlation_id=\(correlation)").list()
            #expect(events.count == 1)
            let event = try #require(events.rows.first)
            #expect(event["type"] as? String == "COMMAND")
            #expect((event["status"] as? String)?.contains("Custom_DoThing") == true)
            #expect((event["sender"] as? [String: Any])?["role"] as? String == "controller")
            let data = try #require((event["data"] as? String).flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(data["command_type"] as? String == "Custom_DoThing")
            let parameters = try #require(data["parameters"] as? [String: Any])
            #expect(parameters["paramA"] as? String == "v" && intValue(parameters["paramB"]) == 123)
            #expect(parameters["command_type"] == nil)

            // Already prefixed: kept as is; a second command gets its own correlation id.
            let again = try await client.post("/api/v1/control/run_command", json: "{\"command_type\": \"Custom_DoThing\", \"timeout\": -1}")
            #expect(again.object()["message"] as? String == "Command Custom_DoThing is pending")
            #expect(again.object()["correlation_id"] as? String != correlation)
            #expect(try await client.get("/api/v1/statuses/count?type=COMMAND").integer() == 2)
        }
    }

    @Test("run_command refusals are a 400 naming command_type (or timeout) and record nothing", arguments: [
        ("{\"command_type\": \"Fedn_Stop\"}", "Fedn_"), ("{}", "command_type"), ("{\"command_type\": \"\"}", "command_type"),
        ("{\"command_type\": 5}", "command_type"), ("{\"command_type\": \"Custom_\"}", "command_type"),
        ("{\"command_type\": \"Do Thing;\"}", "command_type"), ("{\"command_type\": \"Go\", \"timeout\": 0}", "timeout"),
        ("{\"command_type\": \"Go\", \"timeout\": \"soon\"}", "timeout"),
    ])
    func runCommandRefused(body: String, field: String) async throws {
        try await withController { _, client in
            try await client.post("/api/v1/control/run_command", json: body).expectBadRequest(naming: field, "\(body)")
            #expect(try await client.get("/api/v1/statuses/count?type=COMMAND").integer() == 0)
        }
    }

    @Test("control/start_session: unknown session 404, missing id 400, no clients 400 (session stays Created)")
    func startSession() async throws {
        try await withController { service, client in
            try await client.post("/api/v1/control/start_session", json: "{\"session_id\": \"ghost-session\"}").expectNotFound(naming: "ghost-session")
            try await client.post("/api/v1/control/start_session", json: "{}").expectBadRequest(naming: "session_id")
            _ = try Fixtures.storeModel(service)
            let id = try #require(try await client.post("/api/v1/sessions/", json: "{\"name\": \"s\"}").object()["session_id"] as? String)
            try await client.post("/api/v1/control/start_session", json: "{\"session_id\": \"\(id)\", \"rounds\": 0}").expectBadRequest(naming: "rounds")
            try await client.post("/api/v1/control/start_session", json: "{\"session_id\": \"\(id)\", \"client_ids\": 7}").expectBadRequest(naming: "client_ids")
            let response = try await client.post("/api/v1/control/start_session", json: "{\"session_id\": \"\(id)\", \"client_ids\": \"a,b\"}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("lower than the required minimum"))
            #expect(try service.store.fetch(SessionRecord.self, id: id)?.status == .created)
            #expect(try await client.get("/api/v1/runs/count").integer() == 0)
            #expect(try await client.get("/get_controller_status").object()["state"] as? String == "idle")
        }
    }

    @Test("predictions/start: missing id 400, no model 400, unknown model 404, used id 400, no clients 400")
    func predictionsStart() async throws {
        try await withController { service, client in
            let path = "/api/v1/predictions/start"
            try await client.post(path, json: "{}").expectBadRequest(naming: "prediction_id")
            try await client.post(path, json: "{\"prediction_id\": \"p1\"}").expectBadRequest(naming: "model_id")
            let model = try Fixtures.storeModel(service)
            try await client.post(path, json: "{\"prediction_id\": \"p1\", \"model_id\": \"ghost-model\"}").expectNotFound(naming: "ghost-model")
            try await client.post(path, json: "{\"prediction_id\": \"p1\", \"model_id\": \"\(model)\", \"timeout\": 0}").expectBadRequest(naming: "timeout")
            try service.store.insert(PredictionRecord(predictionId: "used", modelId: model, numExamples: 1, output: [:], sender: .client("c"), receiver: .combiner("comb")))
            try await client.post(path, json: "{\"prediction_id\": \"used\"}").expectBadRequest(naming: "prediction_id")
            // The latest model is the default; with no client online the run cannot start.
            let response = try await client.post(path, json: "{\"prediction_id\": \"p1\"}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("lower than the required minimum"))
            #expect(try await client.get("/api/v1/statuses/count?type=PREDICTION_STARTED").integer() == 0)
        }
    }

    @Test("control/start_inference: model_id required, unknown model 404, no clients 400")
    func startInference() async throws {
        try await withController { service, client in
            let path = "/api/v1/control/start_inference"
            try await client.post(path, json: "{}").expectBadRequest(naming: "model_id")
            try await client.post(path, json: "{\"model_id\": \"ghost-model\"}").expectNotFound(naming: "ghost-model")
            let model = try Fixtures.storeModel(service)
            try await client.post(path, json: "{\"model_id\": \"\(model)\", \"timeout\": -5}").expectBadRequest(naming: "timeout")
            let response = try await client.post(path, json: "{\"model_id\": \"\(model)\", \"timeout\": -1}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("lower than the required minimum"))
            #expect(try await client.get("/get_controller_status").object()["state"] as? String == "idle")
        }
    }
}
