import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

/// The FL Framework API route by route: success bodies and each error code.
@Suite("FL Framework API: status, clients, experiments, models")
struct FLFrameworkRouteTests {
    @Test("GET /status and /health describe the server; /health reports real memory and CPU")
    func statusAndHealth() async throws {
        try await withController { _, client in
            let status = try await client.get("\(FL.base)/status").object()
            #expect(status["status"] as? String == "idle" && status["version"] as? String == FLFrameworkAPI.version)
            #expect(intValue(status["registered_clients"]) == 0 && intValue(status["current_round"]) == 0)
            let health = try await client.get("\(FL.base)/health").object()
            #expect(health["status"] as? String == "healthy")
            #expect((intValue(health["memory_bytes"]) ?? 0) > 1 << 20, "resident memory of a running process: \(health)")
            #expect((health["memory_usage"] as? String ?? "").hasSuffix("MB") && (health["cpu_usage"] as? String ?? "").hasSuffix("%"))
        }
    }

    @Test("Clients: register (201, then 409), get, list and filters; unknown ids and bad input are errors in the API's format")
    func clients() async throws {
        try await withController { _, client in
            let r = try await client.post("\(FL.base)/clients/register",
                                          json: "{\"client_id\": \"c1\", \"client_config\": {\"batch_size\": 32}, \"capabilities\": {\"memory\": \"8GB\"}}")
            #expect(r.status == .created)
            let body = r.object()
            #expect(body["status"] as? String == "registered" && (body["registration_id"] as? String ?? "").hasPrefix("reg_"))
            #expect((body["client_config"] as? [String: Any])?["batch_size"] as? Int == 32)
            try await client.post("\(FL.base)/clients/register", json: "{\"client_id\": \"c1\"}").expectFLError(.conflict, "CONFLICT", mentioning: "c1")
            try await client.post("\(FL.base)/clients/register", json: "{\"client_id\": \"bad id!\"}").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "client_id")
            try await client.post("\(FL.base)/clients/register", json: "{\"client_id\": \"c2\", \"location\": 5}").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "location")
            try await client.post("\(FL.base)/clients/register", json: "{not json").expectFLError(.badRequest, "INVALID_REQUEST")

            let one = try await client.get("\(FL.base)/clients/c1").object()
            #expect(one["client_id"] as? String == "c1" && one["status"] as? String == "registered" && one["trust_score"] as? Double == 1)
            try await client.get("\(FL.base)/clients/ghost").expectFLError(.notFound, "CLIENT_NOT_REGISTERED", mentioning: "ghost")
            let list = try await client.get("\(FL.base)/clients?status=registered").object()
            #expect(intValue(list["total_count"]) == 1 && (list["clients"] as? [[String: Any]])?.first?["client_id"] as? String == "c1")
            #expect(intValue(try await client.get("\(FL.base)/clients?status=inactive").object()["total_count"]) == 0)
            try await client.get("\(FL.base)/clients?status=asleep").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "status")
            try await client.get("\(FL.base)/clients?round=x").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "round")
        }
    }

    @Test("Experiments: create keeps the definition and checks the policy; list filters and pages with has_more")
    func experiments() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            for i in 0..<3 {
                let r = try await client.post("\(FL.base)/experiments", json: """
                    {"name": "e\(i)", "dataset_config": {"name": "digits"}, "model_config": {"architecture": "softmax"},
                     "training_config": {"rounds": 4, "local_epochs": 2, "batch_size": 16, "learning_rate": 0.05},
                     "policy_config": {"min_clients": 2, "max_client_failures": 1, "trust_threshold": 0.7}}
                    """)
                #expect(r.status == .created, "\(r.text)")
                #expect(r.object()["status"] as? String == "created")
            }
            let sessions = try service.store.fetchAll(SessionRecord.self, where: "name", equals: "e0")
            let config = try #require(sessions.first).sessionConfig
            #expect(config.rounds == 4 && config.training.localEpochs == 2 && config.training.learningRate == 0.05)
            #expect(config.policy == ParticipantPolicy(minClients: 2, maxClientFailures: 1, trustThreshold: 0.7))
            let page = try await client.get("\(FL.base)/experiments?limit=2&offset=0").object()
            #expect((page["experiments"] as? [Any])?.count == 2 && intValue(page["total_count"]) == 3 && page["has_more"] as? Bool == true)
            let last = try await client.get("\(FL.base)/experiments?limit=2&offset=2").object()
            #expect((last["experiments"] as? [Any])?.count == 1 && last["has_more"] as? Bool == false)
            #expect(intValue(try await client.get("\(FL.base)/experiments?status=running").object()["total_count"]) == 0)
            try await client.get("\(FL.base)/experiments?status=sleeping").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "status")
            try await client.get("\(FL.base)/experiments?limit=0").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "limit")
            try await client.post("\(FL.base)/experiments", json: "{\"policy_config\": {\"trust_threshold\": 1.5}}")
                .expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "policy_config.trust_threshold")
            try await client.post("\(FL.base)/experiments", json: "{\"training_config\": {\"rounds\": 0}}")
                .expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "training_config.rounds")
            try await client.post("\(FL.base)/experiments", json: "{\"aggregation_config\": {\"strategy\": \"FedSGD\"}}")
                .expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "FedSGD")
        }
    }

    @Test("Models: /model/global describes the current model, /model/download serves it as .npz; other formats and unknown ids are refused")
    func models() async throws {
        try await withController { service, client in
            try await client.get("\(FL.base)/model/global").expectFLError(.notFound, "NOT_FOUND")
            let id = try Fixtures.storeModel(service)
            let global = try await client.get("\(FL.base)/model/global").object()
            #expect(global["model_id"] as? String == id && intValue(global["parameters_count"]) == 9 && intValue(global["round"]) == 0)
            let url = try #require(global["download_url"] as? String)
            let file = try await client.get("\(FL.base)\(url)")
            let decoded = try NPZ.decode(file.bytes), original = try Fixtures.model()
            #expect(file.status == .ok && decoded == original)
            #expect(try NativeFormat.decode(try await client.get("\(FL.base)/model/download/\(id)?format=native").bytes) == (try Fixtures.model()))
            for format in ["pytorch", "tensorflow", "onnx"] {
                try await client.get("\(FL.base)/model/global?format=\(format)").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "npz")
                try await client.get("\(FL.base)/model/download/\(id)?format=\(format)").expectFLError(.badRequest, "INVALID_REQUEST", mentioning: format)
            }
            try await client.get("\(FL.base)/model/download/ghost").expectFLError(.notFound, "NOT_FOUND", mentioning: "ghost")
            try await client.get("\(FL.base)/model/global?round=3").expectFLError(.notFound, "NOT_FOUND", mentioning: "round 3")
        }
    }

    @Test("Updates and validation outside a round: unregistered clients, no experiment, bad files and metrics")
    func updatesOutsideARound() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            let model = try Fixtures.model(seed: 2)
            try await FL.upload(client, "ghost", model, samples: 10).expectFLError(.notFound, "CLIENT_NOT_REGISTERED", mentioning: "ghost")
            try await FL.register(client, "c1")
            try await FL.upload(client, "c1", model, samples: 10).expectFLError(.conflict, "EXPERIMENT_NOT_ACTIVE")
            try await FL.upload(client, "c1", model, samples: nil).expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "data_samples")
            // Validation runs against the current model without a round.
            let valid = try await FL.upload(client, "c1", model, samples: 10, path: "model/validate")
            #expect(valid.status == .ok && valid.object()["valid"] as? Bool == true, "\(valid.text)")
            var nan = model
            try nan.setFloat32s("dense/bias", [.nan, 0, 1])
            try await FL.upload(client, "c1", nan, samples: 10, path: "model/validate").expectFLError(.unprocessableContent, "MODEL_VALIDATION_FAILED", mentioning: "NaN")
            let wrong = try Model(float32: [(name: "w", shape: [2], values: [1, 2])])
            try await FL.upload(client, "c1", wrong, samples: 10, path: "model/validate").expectFLError(.unprocessableContent, "MODEL_VALIDATION_FAILED")
            try await FL.upload(client, "c1", model, samples: 0, path: "model/validate").expectFLError(.unprocessableContent, "MODEL_VALIDATION_FAILED")
            let garbage = Multipart(parts: [.init(name: "model_file", filename: "x.npz", bytes: Array("not a model".utf8)),
                                            .init(name: "metrics", bytes: Array("{\"data_samples\": 3}".utf8))])
            try await client.post("\(FL.base)/model/update/c1", bytes: garbage.body, contentType: garbage.contentType)
                .expectFLError(.unprocessableContent, "MODEL_VALIDATION_FAILED", mentioning: "model_file")
            let badMetrics = Multipart(parts: [.init(name: "model_file", filename: "x.npz", bytes: try NPZ.encode(model)), .init(name: "metrics", bytes: Array("[1".utf8))])
            try await client.post("\(FL.base)/model/update/c1", bytes: badMetrics.body, contentType: badMetrics.contentType)
                .expectFLError(.badRequest, "INVALID_REQUEST", mentioning: "metrics")
            try await client.post("\(FL.base)/training/stop", json: "{}").expectFLError(.conflict, "EXPERIMENT_NOT_ACTIVE")
        }
    }
}
