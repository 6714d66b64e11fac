import Foundation
import Testing
@testable import TributaryController
import TributaryStore

/// `aggregator` / `aggregator_kwargs` are checked when a session is created, so a
/// bad strategy never reaches a running session; rejected updates show as status events.
@Suite("Aggregator config at session creation, and /api/v1/statuses")
struct AggregatorConfigRouteTests {
    @Test("Unknown aggregators and bad kwargs are a 400 naming the field", arguments: [
        ("{\"aggregator\": \"fedsgd\"}", "session_config.aggregator"),
        ("{\"aggregator\": \"fedadam\", \"aggregator_kwargs\": {\"beta_1\": 1.5}}", "session_config.aggregator_kwargs.beta_1"),
        ("{\"aggregator\": \"fedadam\", \"aggregator_kwargs\": {\"learning_rate\": 0.1}}", "session_config.aggregator_kwargs.learning_rate"),
        ("{\"aggregator\": \"fedavg\", \"aggregator_kwargs\": {\"beta_1\": 0.5}}", "session_config.aggregator_kwargs.beta_1"),
        ("{\"aggregator\": \"fedprox\"}", "session_config.aggregator_kwargs.proximal_mu"),
        ("{\"aggregator\": \"fedmedian\", \"aggregator_kwargs\": {\"clip_norm\": 1}}", "session_config.aggregator_kwargs.clip_norm"),
        ("{\"aggregator\": \"fedavg\", \"aggregator_kwargs\": {\"clip_norm\": 1}}", "session_config.aggregator_kwargs.noise_multiplier"),
        ("{\"aggregator\": \"krum\", \"aggregator_kwargs\": {\"num_malicious_clients\": 1.5}}", "session_config.aggregator_kwargs.num_malicious_clients"),
        ("{\"aggregator\": \"fedavg\", \"aggregator_kwargs\": {\"max_update_norm\": -1}}", "session_config.aggregator_kwargs.max_update_norm"),
        ("{\"aggregator\": \"fedadam\", \"aggregator_kwargs\": {\"eta\": \"fast\"}}", "aggregator_kwargs"),
    ])
    func refused(config: String, field: String) async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let response = try await client.post("/api/v1/sessions/", json: "{\"name\": \"bad\", \"session_config\": \(config)}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains(field), "\(config): \(response.message())")
            #expect(try await client.get("/api/v1/sessions/count").integer() == 0)
        }
    }

    @Test("A valid strategy is stored with its kwargs as numbers")
    func accepted() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let body = "{\"name\": \"adam\", \"session_config\": {\"aggregator\": \"fedadam\", \"aggregator_kwargs\": {\"eta\": 0.05, \"beta_2\": 0.999}}}"
            let response = try await client.post("/api/v1/sessions/", json: body)
            #expect(response.status == .created, "\(response.text)")
            let config = try #require(response.object()["session_config"] as? [String: Any])
            #expect(config["aggregator"] as? String == "fedadam")
            let kwargs = try #require(config["aggregator_kwargs"] as? [String: Any])
            #expect((kwargs["eta"] as? NSNumber)?.doubleValue == 0.05)
            #expect((kwargs["beta_2"] as? NSNumber)?.doubleValue == 0.999)
        }
    }

    @Test("Status events list, count, filter by sender and get by id")
    func statuses() async throws {
        try await withController { service, client in
            let event = StatusRecord(status: "update rejected by combiner-0: tensor 'w' has a NaN or infinite value",
                                     type: "MODEL_UPDATE_REJECTED", sessionId: "s", roundNumber: 1, senderName: "site-a", senderRole: "client")
            try service.store.insert(event)
            try service.store.insert(StatusRecord(status: "other", type: "CLIENT_FAILED", sessionId: "s", roundNumber: 1,
                                                  senderName: "site-b", senderRole: "client"))
            #expect(try await client.get("/api/v1/statuses/count").integer() == 2)
            let listed = try await client.get("/api/v1/statuses/?sender_name=site-a").list()
            #expect(listed.count == 1)
            #expect(listed.rows.first?["type"] as? String == "MODEL_UPDATE_REJECTED")
            let sender = try #require(listed.rows.first?["sender"] as? [String: Any])
            #expect(sender["role"] as? String == "client")
            #expect(sender["name"] as? String == "site-a")
            #expect(try await client.get("/api/v1/statuses/?sender.name=site-b").list().count == 1)
            let fetched = try await client.get("/api/v1/statuses/\(event.statusId)")
            #expect(fetched.status == .ok)
            #expect(fetched.object()["status"] as? String == event.status)
            // Every field is present, unset ones as null (FEDn's DTOs serialise all fields).
            for key in ["data", "extra", "correlation_id"] { #expect(fetched.object()[key] is NSNull, "\(key)") }
            #expect(try await client.get("/api/v1/statuses/?type=MODEL_UPDATE_REJECTED").list().count == 1)
        }
    }
}
