import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

/// Training operations (seed 001): create a pending round, select devices by criteria, start,
/// list and progress, and cancel — each with its refusals.
@Suite("Device API: training operations")
struct DeviceOperationsTests {
    static let base = DeviceAPI.base

    /// Registers `names` (platform, capabilities) under a fresh org key and heartbeats each once.
    static func devices(_ client: any TestClientProtocol, org: String = "o", _ specs: [(String, String, String)]) async throws -> (org: String, keys: [String: String]) {
        let orgKey = try await DeviceRouteTests.orgKey(client, org)
        var keys: [String: String] = [:]
        for (name, platform, capabilities) in specs {
            let body = "{\"device_id\": \"\(name)\", \"platform\": \"\(platform)\", \"capabilities\": \(capabilities)}"
            keys[name] = try #require(try await DeviceRouteTests.register(client, body, key: orgKey)["api_key"] as? String)
            #expect(try await client.send(.put, "\(base)/devices/\(name)/heartbeat", json: "{}", headers: DeviceRouteTests.bearer(keys[name]!)).status == .ok)
        }
        return (orgKey, keys)
    }

    static func waitForStatus(_ client: any TestClientProtocol, _ round: String, _ wanted: String, key: String) async throws -> [String: Any] {
        var body: [String: Any] = [:]
        for _ in 0..<150 {
            body = try await client.get("\(base)/training/rounds/\(round)", headers: DeviceRouteTests.bearer(key)).object()
            if body["status"] as? String == wanted { return body }
            try await Task.sleep(for: .milliseconds(40))
        }
        Issue.record("round \(round) never reached \(wanted): \(body)")
        return body
    }

    @Test("Create (pending) → select by platform and capabilities → start: only the selected devices are asked; list, progress; 400/403/404/409")
    func createSelectStart() async throws {
        try await withController { service, client in
            _ = try Fixtures.storeModel(service, seed: 1)
            let (org, keys) = try await Self.devices(client, [("ios-gpu", "ios", "{\"gpu\": true}"), ("ios-cpu", "ios", "{}"), ("droid", "android", "{\"gpu\": true}")])
            let bearer = DeviceRouteTests.bearer(org)
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds", json: "{\"target_devices\": 0, \"min_devices\": 1}", headers: bearer),
                                         .badRequest, "bad_request", mentioning: "target_devices")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds", json: "{\"target_devices\": 2, \"min_devices\": 1}", headers: DeviceRouteTests.bearer(keys["droid"]!)),
                                         .forbidden, "forbidden")
            let created = try await client.post("\(Self.base)/training/rounds", json: "{\"target_devices\": 2, \"min_devices\": 1, \"timeout_seconds\": 60}", headers: bearer)
            #expect(created.status == .created && created.object()["status"] as? String == "pending", "\(created.text)")
            let id = try #require(created.object()["id"] as? String)
            let listed = try await client.get("\(Self.base)/training/rounds?status=pending", headers: bearer).object()
            #expect((listed["rounds"] as? [[String: Any]])?.map { $0["id"] as? String } == [id], "\(listed)")

            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/\(id)/select", json: "{\"capabilities\": 3}", headers: bearer), .badRequest, "bad_request", mentioning: "capabilities")
            let selected = try await client.post("\(Self.base)/training/rounds/\(id)/select", json: "{\"platform\": \"ios\", \"capabilities\": [\"gpu\"]}", headers: bearer)
            #expect(selected.status == .ok && selected.object()["status"] as? String == "selected" && intValue(selected.object()["selected_count"]) == 1, "\(selected.text)")
            #expect((selected.object()["selected_devices"] as? [[String: Any]])?.first?["device_identifier"] as? String == "ios-gpu")

            let started = try await client.post("\(Self.base)/training/rounds/\(id)/start", json: "{}", headers: bearer)
            #expect(started.status == .ok && started.object()["id"] as? String == id, "\(started.text)")
            _ = try await Self.waitForStatus(client, id, "active", key: org)
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/\(id)/start", json: "{}", headers: bearer), .conflict, "conflict")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/\(id)/select", json: "{}", headers: bearer), .conflict, "conflict", mentioning: "pending")
            let asked = try await client.send(.put, "\(Self.base)/devices/ios-gpu/heartbeat", json: "{}", headers: DeviceRouteTests.bearer(keys["ios-gpu"]!)).object()
            let notAsked = try await client.send(.put, "\(Self.base)/devices/droid/heartbeat", json: "{}", headers: DeviceRouteTests.bearer(keys["droid"]!)).object()
            #expect(asked["pending_round_id"] as? String == id && notAsked["pending_round_id"] is NSNull, "\(asked) \(notAsked)")
            // The SDK's assignment query: active rounds that selected this device.
            let mine = try await client.get("\(Self.base)/training/rounds?device_id=ios-gpu&status=active", headers: DeviceRouteTests.bearer(keys["ios-gpu"]!)).object()
            let theirs = try await client.get("\(Self.base)/training/rounds?device_id=droid&status=active", headers: DeviceRouteTests.bearer(keys["droid"]!)).object()
            #expect((mine["rounds"] as? [[String: Any]])?.first?["round_id"] as? String == id && (theirs["rounds"] as? [Any])?.isEmpty == true, "\(mine) \(theirs)")
            let progress = try await client.get("\(Self.base)/training/rounds/\(id)/progress", headers: bearer).object()
            #expect(progress["status"] as? String == "active" && intValue(progress["selected_devices"]) == 1 && intValue(progress["received_updates"]) == 0
                    && intValue(progress["pending_devices"]) == 1 && progress["deadline"] is String, "\(progress)")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/training/rounds/nope-r1/progress", headers: bearer), .notFound, "not_found", mentioning: "nope")
        }
    }

    @Test("Cancel: a pending round is cancelled at once; a running round's updates are discarded, devices learn it on their next heartbeat; 409 after")
    func cancel() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service, seed: 1)
            let (org, keys) = try await Self.devices(client, [("a", "python", "{}"), ("b", "python", "{}")])
            let bearer = DeviceRouteTests.bearer(org)
            let pending = try #require(try await client.post("\(Self.base)/training/rounds", json: "{\"target_devices\": 2, \"min_devices\": 2}", headers: bearer).object()["id"] as? String)
            let cancelledPending = try await client.post("\(Self.base)/training/rounds/\(pending)/cancel", json: "{}", headers: bearer)
            #expect(cancelledPending.object()["status"] as? String == "cancelled", "\(cancelledPending.text)")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/\(pending)/start", json: "{}", headers: bearer), .conflict, "conflict")

            let started = try await client.post("\(Self.base)/training/rounds/start", json: "{\"target_devices\": 2, \"min_devices\": 2, \"timeout_seconds\": 60}", headers: bearer)
            let id = try #require(started.object()["id"] as? String)
            _ = try await Self.waitForStatus(client, id, "active", key: org)
            let form = Multipart(parts: [.init(name: "file", filename: "w.npz", bytes: try NPZ.encode(try Fixtures.model(seed: 3))), .init(name: "num_samples", bytes: Array("5".utf8))])
            let uploaded = try await client.execute(uri: "\(Self.base)/training/rounds/\(id)/updates", method: .post,
                                                    headers: [.authorization: "Bearer \(keys["a"]!)", .contentType: form.contentType], body: .init(bytes: form.body))
            #expect(uploaded.status == .created, "\(uploaded.text)")
            let models = try service.store.fetchAll(ModelRecord.self, where: "parent_model", equals: seed).count
            let cancelled = try await client.post("\(Self.base)/training/rounds/\(id)/cancel", json: "{}", headers: bearer)
            #expect(cancelled.status == .ok && cancelled.object()["status"] as? String == "cancelled" && cancelled.object()["aggregated_model_path"] is NSNull, "\(cancelled.text)")
            #expect(try service.store.fetchAll(ModelRecord.self, where: "parent_model", equals: seed).count == models)
            let beat = try await client.send(.put, "\(Self.base)/devices/b/heartbeat", json: "{}", headers: DeviceRouteTests.bearer(keys["b"]!)).object()
            #expect(beat["pending_round_id"] is NSNull && beat["cancelled_round_id"] as? String == id, "\(beat)")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/rounds/\(id)/cancel", json: "{}", headers: bearer), .conflict, "conflict")
            // The network is free again: a new round starts.
            #expect(try await client.post("\(Self.base)/training/rounds/start", json: "{\"target_devices\": 1, \"min_devices\": 1, \"timeout_seconds\": 60}", headers: bearer).status == .created)
        }
    }
}
