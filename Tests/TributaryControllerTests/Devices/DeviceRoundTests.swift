import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

/// Device training rounds (seed 000) with HTTP devices only, the controller in process: start,
/// the pending round in heartbeats, the round's model, updates folded with their sample
/// counts, each refusal, and the round's status through to completion.
@Suite("Device API: training rounds")
struct DeviceRoundTests {
    static let base = DeviceAPI.base

    @Test("A device round: start (400, 409), pending_round_id, global model, exact weighted fold, 400/409 refusals, completed with the aggregated model")
    func deviceRound() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service, seed: 1)
            var keys: [String: String] = [:]
            let org = try await DeviceRouteTests.orgKey(client, "o")
            for id in ["p1", "p2", "p3"] {
                keys[id] = try #require(try await DeviceRouteTests.register(client, "{\"device_id\": \"\(id)\"}", key: org)["api_key"] as? String)
                #expect(try await client.send(.put, "\(Self.base)/devices/\(id)/heartbeat", json: "{}", headers: ["Authorization": "Bearer \(keys[id]!)"]).status == .ok)
            }
            func bearer(_ id: String) -> [String: String] { ["Authorization": "Bearer \(keys[id]!)"] }
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/training/rounds/current", headers: bearer("p1")), .notFound, "not_found")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/start", json: "{\"target_devices\": 3}"), .badRequest, "bad_request", mentioning: "min_devices")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/start", json: "{\"target_devices\": 3, \"min_devices\": 2, \"timeout_seconds\": 5}"),
                                         .badRequest, "bad_request", mentioning: "timeout_seconds")
            let started = try await client.post("\(Self.base)/training/rounds/start", json: "{\"target_devices\": 3, \"min_devices\": 2, \"timeout_seconds\": 60}")
            #expect(started.status == .created, "\(started.text)")
            let roundId = try #require(started.object()["id"] as? String)
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/start", json: "{\"target_devices\": 1, \"min_devices\": 1}"),
                                         .conflict, "conflict", mentioning: "in progress")

            // Active once the cohort collects; heartbeats then name the round.
            var status: [String: Any] = [:]
            for _ in 0..<100 {
                status = try await client.get("\(Self.base)/training/rounds/\(roundId)/status", headers: bearer("p1")).object()
                if status["status"] as? String == "active" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status["status"] as? String == "active" && intValue(status["target_devices"]) == 3 && intValue(status["min_devices"]) == 2, "\(status)")
            #expect((status["config"] as? [String: Any])?["model_id"] as? String == seed && status["timeout_at"] is String)
            let beat = try await client.send(.put, "\(Self.base)/devices/p1/heartbeat", json: "{}", headers: bearer("p1")).object()
            #expect(beat["pending_round_id"] as? String == roundId, "\(beat)")
            let global = try await client.get(try #require(status["global_model_path"] as? String), headers: bearer("p2"))
            #expect(try NPZ.decode(global.bytes) == (try Fixtures.model(seed: 1)))

            func upload(_ id: String, _ model: Model, samples: String) async throws -> TestResponse {
                let form = Multipart(parts: [.init(name: "file", filename: "w.npz", bytes: try NPZ.encode(model)), .init(name: "num_samples", bytes: Array(samples.utf8)),
                                             .init(name: "local_loss", bytes: Array("0.5".utf8)), .init(name: "local_accuracy", bytes: Array("0.9".utf8))])
                var headers = bearer(id)
                headers["Content-Type"] = form.contentType
                return try await client.execute(uri: "\(Self.base)/training/rounds/\(roundId)/updates", method: .post,
                                                headers: .init(headers.map { .init(name: .init($0.key)!, value: $0.value) }), body: .init(bytes: form.body))
            }
            DeviceRouteTests.expectError(try await upload("p1", try Fixtures.model(seed: 2), samples: "zero"), .badRequest, "bad_request", mentioning: "num_samples")
            var nan = try Fixtures.model(seed: 4)
            try nan.setFloat32s("dense/bias", [.nan, 1, 1])
            DeviceRouteTests.expectError(try await upload("p3", nan, samples: "10"), .badRequest, "bad_request", mentioning: "refused")
            let a = try Fixtures.model(seed: 2), b = try Fixtures.model(seed: 6)
            let first = try await upload("p1", a, samples: "30")
            #expect(first.status == .created && intValue(first.object()["num_samples"]) == 30 && first.object()["local_accuracy"] as? Double == 0.9, "\(first.text)")
            DeviceRouteTests.expectError(try await upload("p1", a, samples: "30"), .conflict, "conflict", mentioning: "already")
            #expect(try await upload("p2", b, samples: "10").status == .created)

            for _ in 0..<100 {
                status = try await client.get("\(Self.base)/training/rounds/current", headers: bearer("p1")).object()
                if status["status"] as? String == "completed" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status["status"] as? String == "completed" && intValue(status["completed_devices"]) == 2 && intValue(status["failed_devices"]) == 1, "\(status)")
            let aggregated = try await client.get(try #require(status["aggregated_model_path"] as? String), headers: bearer("p1"))
            let kernel = try NPZ.decode(aggregated.bytes).float32s("dense/kernel")
            let expected = zip(try a.float32s("dense/kernel"), try b.float32s("dense/kernel")).map { (30 * Double($0) + 10 * Double($1)) / 40 }
            #expect(zip(kernel, expected).allSatisfy { abs(Double($0) - $1) <= 1e-6 }, "\(kernel) vs \(expected)")
            let rejected = try await client.get("/api/v1/statuses/?sender_name=p3").list().rows
            #expect(rejected.first?["type"] as? String == "MODEL_UPDATE_REJECTED", "\(rejected)")
            DeviceRouteTests.expectError(try await upload("p2", b, samples: "10"), .conflict, "conflict", mentioning: "not accepting")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/training/rounds/\(roundId)/status"), .unauthorized, "unauthorized")
        }
    }
}
