import Foundation
import Testing
import TributaryModel
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// End-to-end with external-command trainers (the FEDn convention) that return fixed, known
/// updates, so the stored global models can be checked exactly against FedAvg computed here.
@Suite(.serialized) struct ExternalTrainerTests {
    @Test func hierarchicalFedAvgOfKnownUpdatesIsExact() async throws {
        guard ScriptedTrainer.ready() else { return }
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController()
        #expect(await net.waitFor(timeout: .seconds(30)) { try await net.request("GET", "/health").status == 200 })
        try net.startCombiner("combiner-0")
        try net.startCombiner("combiner-1")
        #expect(await net.waitFor(timeout: .seconds(30)) { try await net.count("/api/v1/combiners/count?status=online") == 2 })

        let seed = try Model(float32: [("w", [2, 3], [0, 1, 2, 3, 4, 5]), ("b", [2], [-1, 1])])
        let seedFile = net.directory.appendingPathComponent("seed.npz")
        try NPZ.write(seed, to: seedFile)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seedFile.path]) == 0)

        let script = try ScriptedTrainer.install(in: net.directory)
        // Least-loaded placement puts a and b on different combiners; c's trainer always fails.
        try net.startClient("a", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 1, examples: 100))
        #expect(await net.waitFor(timeout: .seconds(30)) { try await net.count("/api/v1/clients/count?status=online") == 1 })
        try net.startClient("b", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 3, examples: 300))
        #expect(await net.waitFor(timeout: .seconds(30)) { try await net.count("/api/v1/clients/count?status=online") == 2 })
        try net.startClient("c", partition: "0/1", extra: ["--train-command", "sh -c 'echo broken >&2; exit 1'"])
        #expect(await net.waitFor(timeout: .seconds(30)) { try await net.count("/api/v1/clients/count?status=online") == 3 })

        let created = try await net.request("POST", "/api/v1/sessions/", json: ["session_config": ["rounds": 2, "round_timeout": 60, "validate": false]])
        let session = try #require((created.body as? [String: Any])?["session_id"] as? String)
        #expect(try await net.request("POST", "/api/v1/sessions/start", json: ["session_id": session]).status == 200)
        // The failing client reports its failure, so rounds close without waiting for the 60 s timeout.
        let finished = await net.waitFor(timeout: .seconds(50)) {
            (try await net.get("/api/v1/sessions/\(session)") as? [String: Any])?["status"] as? String == "Finished"
        }
        try #require(finished, "session did not finish in time:\n\(net.log("controller"))")

        let rounds = (try await net.get("/api/v1/rounds/?session_id=\(session)", headers: ["X-Sort-Key": "round_number", "X-Sort-Order": "asc"]) as? [String: Any])?["result"] as? [[String: Any]] ?? []
        #expect(rounds.count == 2)
        for (index, round) in rounds.enumerated() {
            #expect(round["status"] as? String == "Finished")
            let out = try #require(round["model_out"] as? String)
            let stored = try await net.downloadModel(out)
            // Flat FedAvg: (100·1 + 300·3) / 400 = 2.5 per round, whatever the combiner split.
            let shift = Float(2.5 * Double(index + 1))
            #expect(try stored.float32s("w") == [0, 1, 2, 3, 4, 5].map { $0 + shift })
            #expect(try stored.float32s("b") == [-1 + shift, 1 + shift])
            let data = round["round_data"] as? [String: Any] ?? [:]
            #expect(data["num_examples"] as? Double == 400)
            #expect((data["train_metrics"] as? [String: Any])?["train_loss"] as? Double == 2.5)
            let reports = round["combiners"] as? [[String: Any]] ?? []
            #expect(reports.filter { $0["status"] as? String == "Success" }.count == 2)  // both tiers really took part
            #expect(Set(reports.flatMap { $0["clients"] as? [String] ?? [] }) == ["a", "b"])
        }
    }
}
