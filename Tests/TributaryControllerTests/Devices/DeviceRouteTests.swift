import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

/// The device API's registry and heartbeats: success bodies, 400, 401, 403, 404, 409 and 429
/// with `Retry-After`, in its error body.
@Suite("Device API: register, list, get, heartbeat")
struct DeviceRouteTests {
    static let base = DeviceAPI.base

    /// A new org key (open controller: the operator route needs no token).
    static func orgKey(_ client: any TestClientProtocol, _ org: String, headers: [String: String] = [:]) async throws -> String {
        let r = try await client.post("\(base)/api-keys", json: "{\"org_id\": \"\(org)\", \"name\": \"test\"}", headers: headers)
        #expect(r.status == .created, "\(r.text)")
        return try #require(r.object()["api_key"] as? String)
    }

    static func register(_ client: any TestClientProtocol, _ body: String, key: String) async throws -> [String: Any] {
        let r = try await client.post("\(base)/devices/register", json: body, headers: bearer(key))
        #expect(r.status == .created, "\(r.text)")
        return r.object()
    }

    static func bearer(_ key: String) -> [String: String] { ["Authorization": "Bearer \(key)"] }

    @Test("Register returns the server id and an API key once, stored only as a hash; SDK and seed spellings; 409 for a duplicate")
    func registration() async throws {
        try await withController { service, client in
            let org = try await Self.orgKey(client, "org_demo")
            #expect(org.hasPrefix("trb_org_"))
            let seed = try await Self.register(client, "{\"device_id\": \"laptop-001\", \"platform\": \"python\", \"capabilities\": {\"cpu\": \"4-core\", \"memory_gb\": 8}}", key: org)
            let key = try #require(seed["api_key"] as? String)
            #expect(key.hasPrefix("trb_dev_") && key.count == 40)
            #expect(seed["device_id"] as? String == "laptop-001" && seed["status"] as? String == "online" && seed["id"] is String)
            let stored = try #require(try service.store.fetchAll(DeviceRecord.self, where: "device_identifier", equals: "laptop-001").first)
            #expect(stored.apiKeyHash == DeviceAPI.hash(key) && !stored.apiKeyHash.contains(key) && !stored.registration.contains(key))
            // What Octomil's Python SDK sends: device_identifier, org_id and free-form fields (kept).
            let sdk = try await Self.register(client, "{\"device_identifier\": \"phone-7\", \"org_id\": \"org_demo\", \"platform\": \"ios\", \"sdk_version\": \"1.2.0\", \"os_version\": \"17.4\"}", key: org)
            #expect(sdk["device_identifier"] as? String == "phone-7" && (sdk["metadata"] as? [String: Any])?["sdk_version"] as? String == "1.2.0")
            #expect(sdk["registered_at"] is String && sdk["org_id"] as? String == "org_demo")

            // Joining needs a credential: none is a 401, a device's own key a 403.
            Self.expectError(try await client.post("\(Self.base)/devices/register", json: "{\"device_id\": \"anon\"}"), .unauthorized, "unauthorized", mentioning: "API key")
            Self.expectError(try await client.post("\(Self.base)/devices/register", json: "{\"device_id\": \"anon\"}", headers: Self.bearer(key)), .forbidden, "forbidden")
            Self.expectError(try await client.post("\(Self.base)/devices/register", json: "{\"device_id\": \"anon\"}", headers: Self.bearer("trb_org_forged")), .unauthorized, "unauthorized")
            #expect(seed["org_id"] as? String == "org_demo")
            let duplicate = try await client.post("\(Self.base)/devices/register", json: "{\"device_id\": \"laptop-001\"}", headers: Self.bearer(org))
            Self.expectError(duplicate, .conflict, "conflict", mentioning: "laptop-001")
            Self.expectError(try await client.post("\(Self.base)/devices/register", json: "{\"platform\": \"ios\"}", headers: Self.bearer(org)), .badRequest, "bad_request", mentioning: "device_id")
            Self.expectError(try await client.post("\(Self.base)/devices/register", json: "{\"device_id\": \"x\", \"platform\": \"amiga\"}", headers: Self.bearer(org)), .badRequest, "bad_request", mentioning: "platform")
            Self.expectError(try await client.post("\(Self.base)/devices/register", json: "{\"device_id\": \"x\", \"capabilities\": [1]}", headers: Self.bearer(org)), .badRequest, "bad_request", mentioning: "capabilities")
            Self.expectError(try await client.post("\(Self.base)/devices/register", json: "{oops", headers: Self.bearer(org)), .badRequest, "bad_request")
        }
    }

    @Test("List by org with platform, status, limit and offset; get by server id or identifier; 404 and 400")
    func listAndGet() async throws {
        try await withController { _, client in
            let orgA = try await Self.orgKey(client, "org_a"), orgB = try await Self.orgKey(client, "org_b")
            var ids: [String] = []
            for (i, platform) in ["ios", "android", "ios"].enumerated() {
                ids.append(try #require(try await Self.register(client, "{\"device_id\": \"d\(i)\", \"platform\": \"\(platform)\"}", key: orgA)["id"] as? String))
            }
            _ = try await Self.register(client, "{\"device_id\": \"other\"}", key: orgB)
            // An org key lists its own org only.
            #expect(intValue(try await client.get("\(Self.base)/devices", headers: Self.bearer(orgB)).object()["total"]) == 1)
            Self.expectError(try await client.get("\(Self.base)/devices?org_id=org_a", headers: Self.bearer(orgB)), .forbidden, "forbidden")
            let all = try await client.get("\(Self.base)/devices?org_id=org_a").object()
            #expect(intValue(all["total"]) == 3 && intValue(all["limit"]) == 100 && intValue(all["offset"]) == 0)
            #expect((all["devices"] as? [[String: Any]])?.map { $0["device_identifier"] as? String } == ["d0", "d1", "d2"])
            let ios = try await client.get("\(Self.base)/devices?org_id=org_a&platform=ios&limit=1&offset=1").object()
            #expect(intValue(ios["total"]) == 2 && (ios["devices"] as? [[String: Any]])?.first?["device_identifier"] as? String == "d2")
            #expect(intValue(try await client.get("\(Self.base)/devices?org_id=org_a&status=online").object()["total"]) == 3)
            #expect(intValue(try await client.get("\(Self.base)/devices?org_id=org_a&status=offline").object()["total"]) == 0)
            Self.expectError(try await client.get("\(Self.base)/devices"), .badRequest, "bad_request", mentioning: "org_id")
            Self.expectError(try await client.get("\(Self.base)/devices?org_id=org_a&limit=1001"), .badRequest, "bad_request", mentioning: "limit")
            Self.expectError(try await client.get("\(Self.base)/devices?org_id=org_a&status=asleep"), .badRequest, "bad_request", mentioning: "status")

            for key in [ids[1], "d1"] {
                let one = try await client.get("\(Self.base)/devices/\(key)", headers: Self.bearer(orgA)).object()
                #expect(one["id"] as? String == ids[1] && one["device_id"] as? String == "d1" && one["platform"] as? String == "android")
                #expect(one["capabilities"] is [String: Any] && one["created_at"] is String)
            }
            Self.expectError(try await client.get("\(Self.base)/devices/ghost", headers: Self.bearer(orgA)), .notFound, "not_found", mentioning: "ghost")
            Self.expectError(try await client.get("\(Self.base)/devices/other", headers: Self.bearer(orgA)), .notFound, "not_found", mentioning: "org_a")
            Self.expectError(try await client.get("\(Self.base)/devices/d1"), .unauthorized, "unauthorized")
        }
    }

    @Test("An org key may make the per-key limit's worth of requests for each device of its org, then 429")
    func orgKeyAllowanceScalesWithDevices() async throws {
        try await withController(configure: { $0.deviceRequestsPerMinute = 3 }) { _, client in
            let org = try await Self.orgKey(client, "o")
            for id in ["a", "b", "c"] { _ = try await Self.register(client, "{\"device_id\": \"\(id)\"}", key: org) }
            // 3 registrations used; 3 devices × 3 = 9 a minute: 6 more heartbeats pass, the 7th is a 429.
            for i in 0..<6 {
                let beat = try await client.send(.put, "\(Self.base)/devices/\(["a", "b", "c"][i % 3])/heartbeat", json: "{}", headers: ["Authorization": "Bearer \(org)"])
                #expect(beat.status == .ok, "request \(i): \(beat.text)")
            }
            let limited = try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: ["Authorization": "Bearer \(org)"])
            Self.expectError(limited, .tooManyRequests, "rate_limited", mentioning: "9 requests")
        }
    }

    @Test("Heartbeat: PUT or POST, by id, identifier or id-less; the key acts only as its device; liveness; 429 with Retry-After")
    func heartbeat() async throws {
        try await withController(configure: { $0.deviceRequestsPerMinute = 4; $0.deviceHeartbeatInterval = 0.2 }) { _, client in
            let org = try await Self.orgKey(client, "o")
            let a = try await Self.register(client, "{\"device_id\": \"a\"}", key: org)
            let b = try await Self.register(client, "{\"device_id\": \"b\"}", key: org)
            let keyA = try #require(a["api_key"] as? String), idA = try #require(a["id"] as? String)
            let bearerA = ["Authorization": "Bearer \(keyA)"]
            let put = try await client.send(.put, "\(Self.base)/devices/\(idA)/heartbeat", json: "{\"status\": \"active\", \"metrics\": {\"battery_level\": 85}}", headers: bearerA)
            #expect(put.status == .ok, "\(put.text)")
            let body = put.object()
            #expect(body["id"] as? String == idA && body["status"] as? String == "online" && body["last_heartbeat"] is String)
            #expect(body.keys.contains("pending_round_id") && body["server_time"] is String && body["message"] is String)
            #expect(try await client.send(.post, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: bearerA).status == .ok)
            #expect(try await client.send(.post, "\(Self.base)/devices/heartbeat", json: "{\"device_identifier\": \"a\"}", headers: bearerA).status == .ok)

            Self.expectError(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}"), .unauthorized, "unauthorized", mentioning: "API key")
            Self.expectError(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: ["Authorization": "Bearer trb_dev_wrong"]), .unauthorized, "unauthorized")
            let keyB = try #require(b["api_key"] as? String)
            Self.expectError(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: ["Authorization": "Bearer \(keyB)"]),
                             .forbidden, "forbidden", mentioning: "'b'")
            Self.expectError(try await client.send(.put, "\(Self.base)/devices/ghost/heartbeat", json: "{}", headers: ["Authorization": "Bearer \(keyB)"]),
                             .notFound, "not_found")
            Self.expectError(try await client.send(.put, "\(Self.base)/devices/b/heartbeat", json: "{\"status\": \"asleep\"}", headers: ["Authorization": "Bearer \(keyB)"]),
                             .badRequest, "bad_request", mentioning: "status")

            // a's fourth request uses up its allowance; b has its own.
            #expect(try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: bearerA).status == .ok)
            let limited = try await client.send(.put, "\(Self.base)/devices/a/heartbeat", json: "{}", headers: bearerA)
            Self.expectError(limited, .tooManyRequests, "rate_limited")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(try await client.send(.put, "\(Self.base)/devices/b/heartbeat", json: "{}", headers: ["Authorization": "Bearer \(keyB)"]).status == .ok)

            // Silent for more than 5 heartbeat intervals: offline.
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await client.get("\(Self.base)/devices/a", headers: Self.bearer(org)).object()["status"] as? String == "offline")
        }
    }

    static func expectError(_ r: TestResponse, _ status: HTTPResponse.Status, _ code: String, mentioning text: String? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
        let body = r.object(sourceLocation: sourceLocation)
        #expect(body["error"] as? String == code && body["code"] as? String == code, "\(r.text)", sourceLocation: sourceLocation)
        #expect(intValue(body["status_code"]) == Int(status.code) && body["request_id"] is String && body["detail"] is String, "\(r.text)", sourceLocation: sourceLocation)
        if let text { #expect((body["message"] as? String ?? "").contains(text), "'\(body["message"] ?? "")' should mention \(text)", sourceLocation: sourceLocation) }
    }
}
