import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

/// Training through the FL Framework API with HTTP participants only (the controller in
/// process, no combiner): start, the round folding exact weighted updates, every refusal
/// code, metrics and scores read back, policy-aware selection; and the rate limits.
@Suite("FL Framework API: training, metrics, scores, rate limits")
struct FLFrameworkTrainingTests {
    static let start = """
        {"experiment_config": {"experiment_id": "exp_1", "rounds": 1, "min_clients": 2, "round_timeout": 30},
         "training_config": {"local_epochs": 1, "learning_rate": 0.1},
         "aggregation_config": {"strategy": "FedAvg", "weighted": true, "min_updates": 2},
         "policy_config": {"trust_threshold": 0.7}}
        """

    @Test("A round of HTTP participants: exact weighted FedAvg, each refusal with its code, then metrics and scores from what happened")
    func oneRound() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service, seed: 1)
            try await client.post("\(FL.base)/training/start", json: Self.start).expectFLError(.conflict, "INSUFFICIENT_CLIENTS")
            #expect(try service.store.fetch(SessionRecord.self, id: "exp_1") == nil, "a refused start leaves no experiment behind")
            for id in ["a", "b", "c"] { try await FL.register(client, id) }

            let started = try await client.post("\(FL.base)/training/start", json: Self.start)
            #expect(started.status == .created, "\(started.text)")
            #expect(started.object()["experiment_id"] as? String == "exp_1" && started.object()["status"] as? String == "started")
            try await client.post("\(FL.base)/training/start", json: Self.start).expectFLError(.conflict, "TRAINING_ALREADY_RUNNING")
            let open = try await FL.waitStatus(client) { $0["accepting_updates"] as? Bool == true }
            #expect(open["status"] as? String == "running" && intValue(open["current_round"]) == 1)
            #expect(Set(open["selected_clients"] as? [String] ?? []) == ["a", "b", "c"])

            // A client that registered after the round began is not part of it.
            try await FL.register(client, "late")
            try await FL.upload(client, "late", try Fixtures.model(seed: 9), samples: 5).expectFLError(.conflict, "ROUND_NOT_ACTIVE", mentioning: "late")
            var nan = try Fixtures.model(seed: 3)
            try nan.setFloat32s("dense/kernel", [0, .infinity, 0, 0, 0, 0])
            try await FL.upload(client, "c", nan, samples: 50).expectFLError(.unprocessableContent, "MODEL_VALIDATION_FAILED")
            let a = try Fixtures.model(seed: 2), b = try Fixtures.model(seed: 5)
            let first = try await FL.upload(client, "a", a, samples: 30)
            #expect(first.status == .created, "\(first.text)")
            #expect(intValue(first.object()["round"]) == 1 && first.object()["validation_status"] as? String == "passed")
            try await FL.upload(client, "a", a, samples: 30).expectFLError(.conflict, "CONFLICT", mentioning: "already")
            #expect(try await FL.upload(client, "b", b, samples: 10).status == .created)

            let done = try await FL.waitStatus(client) { $0["status"] as? String == "completed" }
            #expect(done["progress"] as? Double == 1)
            // The stored model is the flat FedAvg of what was accepted: (30·a + 10·b) / 40.
            let round = try #require(try service.store.fetchAll(RoundRecord.self, where: "session_id", equals: "exp_1").first)
            #expect(round.status == .completed, "\(round.error ?? "")")
            let stored = try service.store.loadModel(id: try #require(round.modelOut))
            let expected = zip(try a.float32s("dense/kernel"), try b.float32s("dense/kernel")).map { (30 * Double($0) + 10 * Double($1)) / 40 }
            let kernel = try stored.float32s("dense/kernel")
            #expect(zip(kernel, expected).allSatisfy { abs(Double($0) - $1) <= 1e-6 }, "\(kernel)")
            #expect(round.roundData.numExamples == 40 && round.modelIn == seed)

            let metrics = try await client.get("\(FL.base)/metrics/training?experiment_id=exp_1").object()
            let rounds = metrics["rounds"] as? [[String: Any]] ?? []
            #expect(rounds.count == 1 && intValue(rounds.first?["participating_clients"]) == 2)
            let perClient = rounds.first?["client_metrics"] as? [String: [String: Any]] ?? [:]
            #expect(Set(perClient.keys) == ["a", "b"] && perClient["a"]?["data_samples"] as? Double == 30 && perClient["a"]?["local_accuracy"] as? Double == 0.5)
            #expect(((try await client.get("\(FL.base)/metrics/training?experiment_id=exp_1&client_id=b").object()["rounds"] as? [[String: Any]])?
                .first?["client_metrics"] as? [String: Any])?.keys.sorted() == ["b"])
            #expect((try await client.get("\(FL.base)/metrics/training?experiment_id=exp_1&from_round=2").object()["rounds"] as? [Any])?.isEmpty == true)
            try await client.get("\(FL.base)/metrics/training?experiment_id=nope").expectFLError(.notFound, "NOT_FOUND", mentioning: "nope")

            // Scores: a 3/4 of the accepted weight, c refused once (trust 1/2), late never selected.
            let statsA = try await client.get("\(FL.base)/metrics/clients/a").object()["statistics"] as? [String: Any] ?? [:]
            #expect(statsA["contribution_score"] as? Double == 0.75 && statsA["reliability_score"] as? Double == 1 && intValue(statsA["total_rounds_participated"]) == 1)
            let statsC = try await client.get("\(FL.base)/metrics/clients/c").object()["statistics"] as? [String: Any] ?? [:]
            #expect(statsC["trust_score"] as? Double == 0.5 && intValue(statsC["updates_rejected"]) == 1 && statsC["contribution_score"] as? Double == 0)
            try await client.get("\(FL.base)/metrics/clients/ghost").expectFLError(.notFound, "CLIENT_NOT_REGISTERED")
            let select = try await client.get("\(FL.base)/clients/select?round=2&policy_check=true").object()
            #expect(Set(select["selected_clients"] as? [String] ?? []) == ["a", "b", "late"])
            #expect((select["exclusion_reasons"] as? [String: String])?["c"] == "Trust score below threshold (0.50 < 0.70)")
            #expect(Set(try await client.get("\(FL.base)/clients/select?policy_check=false").object()["selected_clients"] as? [String] ?? []) == ["a", "b", "c", "late"])
            let global = try await client.get("\(FL.base)/model/global").object()
            #expect(global["model_id"] as? String == round.modelOut && intValue(global["round"]) == 1)
            #expect(try await client.get("\(FL.base)/experiments?status=completed").object()["total_count"] as? Int == 1)
        }
    }

    @Test("Rate limits: headers on every answer, 429 with Retry-After past the limit for that identity only; uploads and starts have their own")
    func rateLimits() async throws {
        try await withController(configure: { c in
            c.flRateLimits.requestsPerMinute = 5
            c.flRateLimits.uploadsPerMinute = 2
            c.flRateLimits.trainingStartsPerHour = 1
        }) { service, client in
            _ = try Fixtures.storeModel(service)
            for i in 0..<5 {
                let r = try await client.get("\(FL.base)/status", headers: ["Authorization": "Bearer flooder"])
                #expect(r.status == .ok)
                #expect(r.headers[.init("X-RateLimit-Limit")!] == "5" && r.headers[.init("X-RateLimit-Remaining")!] == "\(4 - i)")
                #expect(Int(r.headers[.init("X-RateLimit-Reset")!] ?? "") ?? 0 > Int(Date().timeIntervalSince1970))
            }
            let limited = try await client.get("\(FL.base)/status", headers: ["Authorization": "Bearer flooder"])
            limited.expectFLError(.tooManyRequests, "RATE_LIMITED")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1 && limited.headers[.init("X-RateLimit-Remaining")!] == "0")
            #expect(try await client.get("\(FL.base)/status", headers: ["Authorization": "Bearer other"]).status == .ok)
            // Errors carry the headers too.
            let missing = try await client.get("\(FL.base)/clients/ghost", headers: ["Authorization": "Bearer third"])
            #expect(missing.status == .notFound && missing.headers[.init("X-RateLimit-Limit")!] == "5")

            try await FL.register(client, "u")
            let model = try Fixtures.model(seed: 2)
            for _ in 0..<2 { #expect(try await FL.upload(client, "u", model, samples: 1, bearer: "uploader").status != .tooManyRequests) }
            let third = try await FL.upload(client, "u", model, samples: 1, bearer: "uploader")
            third.expectFLError(.tooManyRequests, "RATE_LIMITED")
            #expect(third.headers[.init("X-RateLimit-Limit")!] == "2")
            _ = try await client.post("\(FL.base)/training/start", json: "{}", headers: ["Authorization": "Bearer starter"])
            try await client.post("\(FL.base)/training/start", json: "{}", headers: ["Authorization": "Bearer starter"]).expectFLError(.tooManyRequests, "RATE_LIMITED")
        }
    }
}

@Suite("FL Framework API: stopping, and authentication in its error format")
struct FLFrameworkControlTests {
    @Test("POST /training/stop stops the running experiment after its round; a wrong experiment_id is EXPERIMENT_NOT_ACTIVE")
    func stop() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service)
            try await FL.register(client, "a")
            let started = try await client.post("\(FL.base)/training/start", json: "{\"experiment_config\": {\"experiment_id\": \"long\", \"rounds\": 50, \"round_timeout\": 30}}")
            #expect(started.status == .created, "\(started.text)")
            _ = try await FL.waitStatus(client) { $0["accepting_updates"] as? Bool == true }
            try await client.post("\(FL.base)/training/stop", json: "{\"experiment_id\": \"other\"}").expectFLError(.conflict, "EXPERIMENT_NOT_ACTIVE", mentioning: "other")
            let stop = try await client.post("\(FL.base)/training/stop", json: "{\"experiment_id\": \"long\", \"reason\": \"manual_stop\"}")
            #expect(stop.status == .ok && stop.object()["status"] as? String == "stopping", "\(stop.text)")
            #expect(try await FL.upload(client, "a", try Fixtures.model(seed: 2), samples: 4).status == .created)
            let ended = try await FL.waitStatus(client) { $0["status"] as? String == "stopped" }
            #expect(intValue(ended["current_round"]) == 1, "the stop took effect after round 1: \(ended)")
        }
    }

    @Test("With authentication on: 401 without a token and 403 for a client token on training control, in the API's error body")
    func authentication() async throws {
        let secret = "fl-framework-test-secret"
        try await withController(jwtSecret: secret) { _, client in
            let auth = APIAuthentication(secret: secret)
            let clientToken = try await auth.issue(role: "client", subject: "site", days: 1).token
            try await client.get("\(FL.base)/status").expectFLError(.unauthorized, "UNAUTHORIZED")
            let bearer = ["Authorization": "Bearer \(clientToken)"]
            #expect(try await client.get("\(FL.base)/status", headers: bearer).status == .ok)
            #expect(try await client.post("\(FL.base)/clients/register", json: "{\"client_id\": \"s\"}", headers: bearer).status == .created)
            try await client.post("\(FL.base)/training/start", json: "{}", headers: bearer).expectFLError(.forbidden, "FORBIDDEN")
            try await client.post("\(FL.base)/experiments", json: "{}", headers: bearer).expectFLError(.forbidden, "FORBIDDEN")
        }
    }
}
