import Foundation
import Testing
import TributaryModel

/// Secure aggregation for HTTP devices with the real executables: Python devices written from
/// the README's protocol description (Tests/secagg/participant.py, device mode) take part in
/// one round beside a combiner's nng cohort; the controller, as the devices' server, holds only
/// their masked sum.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct DeviceSecureAggregationTests {
    @Test("Python devices over the SecAgg+ stage routes and Swift nng clients in one secure round: the model is the weighted FedAvg within the bound, a device lost after sharing is left out, plain updates are refused",
          .enabled(if: TestNetwork.virtualenvPython("secagg") != nil, "no .venv/secagg: run scripts/setup.sh"))
    func devicesAndClients() async throws {
        guard ScriptedTrainer.ready() else { return }
        let python = try #require(TestNetwork.virtualenvPython("secagg"))
        let participant = TestNetwork.repositoryRoot.appendingPathComponent("Tests/secagg/participant.py").path
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController(extra: ["--device-round-min-timeout", "5", "--device-rate-limit", "100000"])
        try await net.waitHealthy()
        try net.startCombiner("combiner-0")
        try await net.waitOnline(combiners: 1)
        try net.uploadTinySeed()
        let script = try ScriptedTrainer.install(in: net.directory)
        // nng: two clients (a cohort needs at least the threshold, 2); HTTP: four devices, d-3 leaves after sharing.
        let clients: [(delta: Double, examples: Int)] = [(0.1, 10), (0.2, 30)]
        for (i, c) in clients.enumerated() {
            try net.startClient("client-\(i)", partition: "0/1", extra: ScriptedTrainer.command(script, delta: c.delta, examples: c.examples))
        }
        let api = net.controllerURL.absoluteString + "/device-api/api/v1"
        let created = try await net.request("POST", "/device-api/api/v1/api-keys", json: ["org_id": "secure", "name": "devices"])
        let orgKey = try #require((created.body as? [String: Any])?["api_key"] as? String, "\(String(describing: created.body))")
        let devices: [(delta: Double, examples: Int)] = [(-0.3, 20), (0.05, 60), (0.4, 40), (0.9, 50)]
        for (i, d) in devices.enumerated() {
            try net.startProgram("d-\(i)", python, [participant, "--device-api", api, "--api-key", orgKey, "--device-id", "d-\(i)", "--delta", "\(d.delta)",
                                                   "--examples", "\(d.examples)", "--rounds", "1", "--timeout", "120"] + (i == 3 ? ["--drop-after", "bundles"] : []))
        }
        try await net.waitOnline(combiners: 1, clients: 2)
        let registered = await net.waitFor(timeout: .seconds(30)) {
            let list = try await net.request("GET", "/device-api/api/v1/devices?org_id=secure", headers: ["Authorization": "Bearer \(orgKey)"]).body as? [String: Any]
            return (list?["devices"] as? [Any] ?? list?["results"] as? [Any] ?? []).count == 4
        }
        try #require(registered, "the devices did not register:\n\(net.log("d-0"))")

        let start = try await net.request("POST", "/device-api/api/v1/training/rounds/start", json: [
            "target_devices": 4, "min_devices": 3, "timeout_seconds": 30,
            "secure_aggregation": ["num_shares": 5, "reconstruction_threshold": 2, "timeout": 5],
        ], headers: ["Authorization": "Bearer \(orgKey)"])
        let roundId = try #require((start.body as? [String: Any])?["id"] as? String, "\(start.status) \(String(describing: start.body))")
        // A plain update to a secure round is refused, naming secure aggregation.
        let plain = try await Self.plainUpdate(net, roundId: roundId, key: orgKey)
        #expect(plain.status == 400 && "\(plain.body ?? "")".contains("secure aggregation"), "\(plain.status) \(String(describing: plain.body))")

        var status: [String: Any] = [:]
        let ended = await net.waitFor(timeout: .seconds(90)) {
            status = try await net.request("GET", "/device-api/api/v1/training/rounds/\(roundId)", headers: ["Authorization": "Bearer \(orgKey)"]).body as? [String: Any] ?? [:]
            return ["completed", "failed"].contains(status["status"] as? String ?? "")
        }
        try #require(ended && status["status"] as? String == "completed", "\(status)\n\(net.log("controller").suffix(3000))\n\(net.log("d-0").suffix(2000))")
        #expect((status["config"] as? [String: Any])?["secure_aggregation"] as? Bool == true)

        let rounds = try await net.get("/api/v1/rounds/") as? [String: Any]
        let round = try #require((rounds?["result"] as? [[String: Any]])?.first { ($0["round_data"] as? [String: Any]) != nil && $0["model_out"] is String })
        let modelIn = try await net.downloadModel(try #require(round["model_in"] as? String))
        let modelOut = try await net.downloadModel(try #require(round["model_out"] as? String))
        let members = clients + Array(devices[0..<3])   // d-3 left after sharing: not in the sum
        let expected = SecureAggregationTests.fedAvg(modelIn, members)
        let bound = SecureAggregationTests.bound(cohorts: [clients, Array(devices[0..<3])])
        try SecureAggregationTests.expectModel(modelOut, expected, within: bound)
        #expect(net.log("d-3").contains("dropped after bundles"), "\(net.log("d-3"))")
        // The round's counts cover all its participants: 2 nng clients + 3 devices contributed, d-3 did not.
        #expect(status["completed_devices"] as? Int == 5 && status["failed_devices"] as? Int == 1, "\(status)")
    }

    /// A multipart .npz update of the tiny model, as a device would send without secure aggregation.
    static func plainUpdate(_ net: TestNetwork, roundId: String, key: String) async throws -> (status: Int, body: Any?) {
        let file = net.directory.appendingPathComponent("plain.npz")
        try NPZ.write(TestNetwork.tinySeed, to: file)
        let boundary = "plain-\(UUID().uuidString)"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"device_id\"\r\n\r\nd-0\r\n".utf8)
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"num_samples\"\r\n\r\n10\r\n".utf8)
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"u.npz\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        body += try Data(contentsOf: file) + Data("\r\n--\(boundary)--\r\n".utf8)
        return try await net.requestRaw("POST", "/device-api/api/v1/training/rounds/\(roundId)/updates", body: body,
                                        headers: ["Authorization": "Bearer \(key)", "Content-Type": "multipart/form-data; boundary=\(boundary)"])
    }
}
