import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

/// On-device training jobs, personalization state, and the API's credentials: org keys (and
/// their revocation), admin tokens on a controller with `--jwt-secret`, per-key rate limits.
@Suite("Device API: training jobs, personalization, credentials")
struct DeviceJobsTests {
    static let base = DeviceAPI.base

    @Test("Training jobs: create, progress, complete with metrics; 409 once ended; another device's job is a 404")
    func trainingJobs() async throws {
        try await withController { _, client in
            let (_, keys) = try await DeviceOperationsTests.devices(client, [("a", "python", "{}"), ("b", "python", "{}")])
            let keyA = DeviceRouteTests.bearer(keys["a"]!), keyB = DeviceRouteTests.bearer(keys["b"]!)
            let created = try await client.post("\(Self.base)/devices/a/training-jobs", json: "{\"model_id\": \"m\"}", headers: keyA)
            #expect(created.status == .created && created.object()["state"] as? String == "created", "\(created.text)")
            let job = try #require(created.object()["id"] as? String)
            let progress = try await client.post("\(Self.base)/devices/a/training-jobs/\(job)/status", json: "{\"state\": \"running\", \"epoch\": 2, \"loss\": 0.4}", headers: keyA)
            #expect(progress.object()["state"] as? String == "running" && intValue((progress.object()["progress"] as? [String: Any])?["epoch"]) == 2, "\(progress.text)")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/devices/a/training-jobs/\(job)/status", json: "{\"state\": \"dreaming\"}", headers: keyA), .badRequest, "bad_request", mentioning: "state")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/devices/a/training-jobs/\(job)/complete", json: "{\"metrics\": {\"accuracy\": \"high\"}}", headers: keyA),
                                         .badRequest, "bad_request", mentioning: "metrics.accuracy")
            let done = try await client.post("\(Self.base)/devices/a/training-jobs/\(job)/complete", json: "{\"metrics\": {\"accuracy\": 0.93}}", headers: keyA)
            #expect(done.object()["state"] as? String == "completed" && (done.object()["metrics"] as? [String: Any])?["accuracy"] as? Double == 0.93 && done.object()["completed_at"] is String)
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/devices/a/training-jobs/\(job)/status", json: "{\"state\": \"running\"}", headers: keyA), .conflict, "conflict")
            #expect(intValue(try await client.get("\(Self.base)/devices/a/training-jobs", headers: keyA).object()["total"]) == 1)
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/devices/a/training-jobs/\(job)", headers: keyB), .forbidden, "forbidden")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/devices/b/training-jobs/\(job)", headers: keyB), .notFound, "not_found")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/devices/a/training-jobs", json: "{\"round_id\": \"ghost-r1\"}", headers: keyA), .notFound, "not_found", mentioning: "ghost")
        }
    }

    @Test("Personalization: null state, upsert answers 200 both ways, weights stored and downloadable, metrics alone, list per federation; NaN refused")
    func personalization() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service, seed: 1, name: "digits")
            let (org, keys) = try await DeviceOperationsTests.devices(client, [("a", "python", "{}"), ("b", "python", "{}")])
            let keyA = DeviceRouteTests.bearer(keys["a"]!)
            let empty = try await client.get("\(Self.base)/training/personalized/a", headers: keyA).object()
            #expect(empty["state"] is NSNull && empty["has_weights"] as? Bool == false && empty["model_id"] as? String == seed, "\(empty)")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/training/personalized/a/metrics", headers: keyA), .notFound, "not_found")
            let weights = Data(try NPZ.encode(try Fixtures.model(seed: 7))).base64EncodedString()
            let first = try await client.post("\(Self.base)/training/personalized/a", json: "{\"weights_data\": \"\(weights)\", \"metrics\": {\"accuracy\": 0.8}}", headers: keyA)
            #expect(first.status == .ok && first.object()["created"] as? Bool == true && first.object()["has_weights"] as? Bool == true, "\(first.text)")
            let second = try await client.post("\(Self.base)/training/personalized/a", json: "{\"metrics\": {\"accuracy\": 0.85}, \"strategy\": \"ditto\"}", headers: keyA)
            #expect(second.status == .ok && second.object()["created"] as? Bool == false && second.object()["strategy"] as? String == "ditto" && second.object()["has_weights"] as? Bool == true)
            let metrics = try await client.get("\(Self.base)/training/personalized/a/metrics", headers: keyA).object()
            #expect((metrics["metrics"] as? [String: Any])?["accuracy"] as? Double == 0.85 && metrics["weights_key"] == nil, "\(metrics)")
            let back = try await client.get("\(Self.base)/training/personalized/a/weights", headers: keyA)
            #expect(try NPZ.decode(back.bytes) == (try Fixtures.model(seed: 7)))
            var nan = try Fixtures.model(seed: 7)
            try nan.setFloat32s("dense/bias", [.nan, 0, 0])
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/personalized/a", json: "{\"weights_data\": \"\(Data(try NPZ.encode(nan)).base64EncodedString())\"}", headers: keyA),
                                         .badRequest, "bad_request", mentioning: "NaN")
            _ = try await client.post("\(Self.base)/training/personalized/b", json: "{\"metrics\": {\"accuracy\": 0.7}, \"federation_id\": \"other\"}", headers: DeviceRouteTests.bearer(keys["b"]!))
            let list = try await client.get("\(Self.base)/training/personalized?federation_id=default", headers: DeviceRouteTests.bearer(org)).object()
            #expect((list["states"] as? [[String: Any]])?.compactMap { $0["device_id"] as? String }.count == 1 && intValue(list["total"]) == 1, "\(list)")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/training/personalized", headers: keyA), .forbidden, "forbidden")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/training/personalized/b", headers: keyA), .forbidden, "forbidden")
        }
    }

    @Test("Credentials: a revoked org key is a 401 at once; with --jwt-secret, operator routes need an admin token (a client token is a 403); per-key 429; deleting a device revokes its key")
    func credentials() async throws {
        try await withController(jwtSecret: AuthRouteTests.secret, configure: { $0.deviceRequestsPerMinute = 5 }) { _, client in
            let admin = DeviceRouteTests.bearer(try await AuthRouteTests.token(role: "admin"))
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/api-keys", json: "{\"org_id\": \"o\"}"), .unauthorized, "unauthorized")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/api-keys", json: "{\"org_id\": \"o\"}", headers: DeviceRouteTests.bearer(try await AuthRouteTests.token(role: "client"))),
                                         .forbidden, "forbidden")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/devices?org_id=o"), .unauthorized, "unauthorized")
            let created = try await client.post("\(Self.base)/api-keys", json: "{\"org_id\": \"o\"}", headers: admin)
            let org = try #require(created.object()["api_key"] as? String), keyId = try #require(created.object()["id"] as? String)
            let device = try await DeviceRouteTests.register(client, "{\"device_id\": \"a\"}", key: org)
            #expect(device["org_id"] as? String == "o")
            let other = try await client.post("\(Self.base)/api-keys", json: "{\"org_id\": \"p\"}", headers: DeviceRouteTests.bearer(org))
            DeviceRouteTests.expectError(other, .forbidden, "forbidden", mentioning: "'p'")
            // The admin token may act for any device; the org key until it is revoked.
            #expect(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: admin).status == .ok)
            #expect(try await client.send(.delete, "\(Self.base)/api-keys/\(keyId)", headers: admin).status == .ok)
            DeviceRouteTests.expectError(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: DeviceRouteTests.bearer(org)), .unauthorized, "unauthorized", mentioning: "revoked")
            let keyA = DeviceRouteTests.bearer(try #require(device["api_key"] as? String))
            for _ in 0..<5 { #expect(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: keyA).status == .ok) }
            let limited = try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: keyA)
            DeviceRouteTests.expectError(limited, .tooManyRequests, "rate_limited")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            // Deleting the device revokes its key at once.
            #expect(try await client.send(.delete, "\(Self.base)/devices/a", headers: admin).object()["deleted"] as? Bool == true)
            DeviceRouteTests.expectError(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: keyA), .unauthorized, "unauthorized")
            DeviceRouteTests.expectError(try await client.send(.delete, "\(Self.base)/devices/a", headers: admin), .notFound, "not_found")
        }
    }
}
