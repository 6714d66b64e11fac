import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

/// The SDKs' model registry and `POST /training/weights` (JSON, base64), the per-version
/// counts, and `POST /training/aggregate`.
@Suite("Device API: model registry, weights uploads, aggregation")
struct DeviceWeightsTests {
    static let base = DeviceAPI.base

    static func weights(_ model: String, version: String? = nil, device: String? = nil, samples: Int, data: [UInt8], format: String = "weights",
                        extra: String = "") -> String {
        var fields = ["\"model_id\": \"\(model)\"", "\"sample_count\": \(samples)", "\"update_format\": \"\(format)\"",
                      "\"weights_data\": \"\(Data(data).base64EncodedString())\"", "\"metrics\": {\"loss\": 0.5}"]
        if let version { fields.append("\"version\": \"\(version)\"") }
        if let device { fields.append("\"device_id\": \"\(device)\"") }
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    @Test("Registry: models by name, versions/latest, download as npz, npy (one tensor) or native; 400 naming an unserved format; 404")
    func registry() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service, seed: 1, name: "digits")
            let child = try service.store.storeModel(try Fixtures.model(seed: 2), parent: seed, sessionId: nil, roundNumber: nil, name: "digits-v2").modelId
            let single = try service.store.storeModel(try Model(float32: [(name: "w", shape: [3], values: [1, 2, 3])]), parent: nil, sessionId: nil, roundNumber: nil, name: "tiny").modelId
            let key = DeviceRouteTests.bearer(try await DeviceRouteTests.orgKey(client, "o"))
            let models = try await client.get("\(Self.base)/models?org_id=o", headers: key).object()["models"] as? [[String: Any]] ?? []
            let digits = try #require(models.first { $0["name"] as? String == "digits" })
            #expect(digits["id"] as? String == seed && digits["latest_version"] as? String == child && intValue(digits["version_count"]) == 2, "\(digits)")
            #expect(try await client.get("\(Self.base)/models/digits", headers: key).object()["id"] as? String == seed)
            let latest = try await client.get("\(Self.base)/models/\(seed)/versions/latest", headers: key).object()
            #expect(latest["version"] as? String == child && intValue(latest["version_number"]) == 2 && latest["parent_version"] as? String == seed, "\(latest)")
            let npz = try await client.get("\(Self.base)/models/\(seed)/versions/1/download", headers: key)
            #expect(try NPZ.decode(npz.bytes) == (try Fixtures.model(seed: 1)))
            let native = try await client.get("\(Self.base)/models/\(seed)/versions/\(child)/download?format=native", headers: key)
            #expect(try NativeFormat.decode(native.bytes) == (try Fixtures.model(seed: 2)))
            let npy = try await client.get("\(Self.base)/models/\(single)/versions/latest/download?format=npy", headers: key)
            #expect(try NPZ.decodeArray(npy.bytes, name: "w").float32s("w") == [1, 2, 3])
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/models/\(seed)/versions/latest/download?format=pytorch", headers: key), .badRequest, "bad_request", mentioning: "pytorch")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/models/\(seed)/versions/latest/download?format=npy", headers: key), .badRequest, "bad_request", mentioning: "npz")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/models/\(seed)/versions/9", headers: key), .notFound, "not_found", mentioning: "9")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/models/ghost", headers: key), .notFound, "not_found", mentioning: "ghost")
            DeviceRouteTests.expectError(try await client.get("\(Self.base)/models"), .unauthorized, "unauthorized")
        }
    }

    @Test("Weights: stored per version (weights and delta), layout/NaN/base64/format refusals, acting for another device; counts; aggregate = weighted FedAvg")
    func weightsAndAggregate() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service, seed: 1, name: "digits")
            let (org, keys) = try await DeviceOperationsTests.devices(client, [("a", "python", "{}"), ("b", "python", "{}")])
            let orgKey = DeviceRouteTests.bearer(org), keyA = DeviceRouteTests.bearer(keys["a"]!), keyB = DeviceRouteTests.bearer(keys["b"]!)
            let base = try Fixtures.model(seed: 1), a = try Fixtures.model(seed: 2), b = try Fixtures.model(seed: 5)
            // Device a sends full weights with its own key; b sends a delta (b − base) through the org key.
            let first = try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 30, data: try NPZ.encode(a)), headers: keyA)
            #expect(first.status == .created && first.object()["status"] as? String == "stored" && first.object()["version"] as? String == seed, "\(first.text)")
            var delta = b
            for name in ["dense/kernel", "dense/bias"] { try delta.setFloat32s(name, zip(try b.float32s(name), try base.float32s(name)).map { $0 - $1 }) }
            let second = try await client.post("\(Self.base)/training/weights", json: Self.weights(seed, version: seed, device: "b", samples: 10, data: try NPZ.encode(delta), format: "delta"), headers: orgKey)
            #expect(second.status == .created && second.object()["device_identifier"] as? String == "b", "\(second.text)")

            var nan = a
            try nan.setFloat32s("dense/bias", [1, .infinity, 0])
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 3, data: try NPZ.encode(nan)), headers: keyA),
                                         .badRequest, "bad_request", mentioning: "dense/bias")
            let wrong = try Model(float32: [(name: "dense/kernel", shape: [3, 2], values: Array(repeating: 0, count: 6))])
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 3, data: try NPZ.encode(wrong)), headers: keyA),
                                         .badRequest, "bad_request", mentioning: "tensors")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: "{\"model_id\": \"digits\", \"sample_count\": 3, \"weights_data\": \"%%%\"}", headers: keyA),
                                         .badRequest, "bad_request", mentioning: "weights_data")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 3, data: try NPZ.encode(a), format: "gradients"), headers: keyA),
                                         .badRequest, "bad_request", mentioning: "update_format")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 0, data: try NPZ.encode(a)), headers: keyA),
                                         .badRequest, "bad_request", mentioning: "sample_count")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 3, data: Array("hello".utf8)), headers: keyA),
                                         .badRequest, "bad_request", mentioning: "format")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 3, data: try NPZ.encode(a)), headers: orgKey),
                                         .badRequest, "bad_request", mentioning: "device_id")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", device: "a", samples: 3, data: try NPZ.encode(a)), headers: keyB),
                                         .forbidden, "forbidden")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("ghost", samples: 3, data: try NPZ.encode(a)), headers: keyA),
                                         .notFound, "not_found", mentioning: "ghost")

            let summary = try await client.get("\(Self.base)/training/updates/summary?model_id=digits", headers: orgKey).object()
            #expect(intValue(summary["total_updates"]) == 2 && intValue(summary["total_samples"]) == 40 && summary["last_update_at"] is String, "\(summary)")
            let recent = try await client.get("\(Self.base)/training/updates?model_id=digits&limit=1", headers: orgKey).object()["updates"] as? [[String: Any]] ?? []
            #expect(recent.count == 1 && recent.first?["update_format"] as? String == "delta", "\(recent)")
            let perDevice = try await client.get("\(Self.base)/training/updates/devices?model_id=digits", headers: orgKey).object()["devices"] as? [[String: Any]] ?? []
            #expect(Set(perDevice.compactMap { $0["device_identifier"] as? String }) == ["a", "b"] && perDevice.allSatisfy { intValue($0["update_count"]) == 1 }, "\(perDevice)")

            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/aggregate", json: "{\"model_id\": \"digits\", \"min_updates\": 3}", headers: orgKey), .conflict, "conflict", mentioning: "2")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/aggregate", json: "{\"model_id\": \"digits\", \"strategy\": \"krum\"}", headers: orgKey), .badRequest, "bad_request", mentioning: "strategy")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/aggregate", json: "{\"model_id\": \"digits\"}", headers: keyA), .forbidden, "forbidden")
            let aggregated = try await client.post("\(Self.base)/training/aggregate", json: "{\"model_id\": \"digits\", \"base_version\": \"\(seed)\", \"min_updates\": 2, \"strategy\": \"metrics\"}", headers: orgKey)
            #expect(aggregated.status == .created && intValue(aggregated.object()["num_updates"]) == 2 && intValue(aggregated.object()["total_samples"]) == 40, "\(aggregated.text)")
            let version = try #require(aggregated.object()["new_version"] as? String)
            #expect(try await client.get("\(Self.base)/models/digits/versions/latest", headers: keyA).object()["version"] as? String == version)
            let result = try service.store.loadModel(id: version)
            for name in ["dense/kernel", "dense/bias"] {
                let expected = zip(try a.float32s(name), try b.float32s(name)).map { (30 * Double($0) + 10 * Double($1)) / 40 }
                #expect(zip(try result.float32s(name), expected).allSatisfy { abs(Double($0) - $1) <= 1e-5 }, "\(name)")
            }
            // Aggregated updates are not folded twice.
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/aggregate", json: "{\"model_id\": \"digits\", \"base_version\": \"\(seed)\"}", headers: orgKey),
                                         .conflict, "conflict")
        }
    }

    @Test("An upload from a device the open round awaits, on the round's model, goes into the round (no round_id needed); a named closed round is a 409")
    func weightsIntoRound() async throws {
        try await withController { service, client in
            let seed = try Fixtures.storeModel(service, seed: 1, name: "digits")
            let (org, keys) = try await DeviceOperationsTests.devices(client, [("a", "python", "{}")])
            let orgKey = DeviceRouteTests.bearer(org), keyA = DeviceRouteTests.bearer(keys["a"]!)
            let id = try #require(try await client.post("\(Self.base)/training/rounds/start", json: "{\"target_devices\": 1, \"min_devices\": 1, \"timeout_seconds\": 60}", headers: orgKey).object()["id"] as? String)
            _ = try await DeviceOperationsTests.waitForStatus(client, id, "active", key: org)
            let sent = try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", version: seed, samples: 7, data: try NPZ.encode(try Fixtures.model(seed: 4))), headers: keyA)
            #expect(sent.status == .created && sent.object()["status"] as? String == "aggregated_in_round" && sent.object()["round_id"] as? String == id, "\(sent.text)")
            let done = try await DeviceOperationsTests.waitForStatus(client, id, "completed", key: org)
            let out = try #require(try service.store.fetch(RoundRecord.self, id: id)?.modelOut)
            let folded = try service.store.loadModel(id: out).float32s("dense/kernel")
            #expect(zip(folded, try Fixtures.model(seed: 4).float32s("dense/kernel")).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(done)")
            DeviceRouteTests.expectError(try await client.post("\(Self.base)/training/weights", json: Self.weights("digits", samples: 7, data: try NPZ.encode(try Fixtures.model(seed: 4)), extra: "\"round_id\": \"\(id)\""), headers: keyA),
                                         .conflict, "conflict", mentioning: "not accepting")
        }
    }
}
