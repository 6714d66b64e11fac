import Foundation
import Testing
import TributaryModel
import TributaryWire

/// End-to-end: real processes (a controller, two combiners, external-command clients
/// that return fixed, known updates) for fedavg, fedadam and fedmedian; every stored global
/// model is checked against values computed here from the formulas, not by the library.
/// And a NaN update is refused with a status event while the round completes from the others.
@Suite(.serialized) struct AggregationStrategyTests {
    /// Like `ScriptedTrainer`, but the shift is `delta × round`, so a server optimizer sees a
    /// different pseudo-gradient each round (its state matters); `nan` writes NaN everywhere.
    static func installScript(in directory: URL) throws -> URL {
        let script = directory.appendingPathComponent("round_scaled_train.py")
        try """
        import json, sys
        import numpy as np
        src, dst, delta, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        r = int(json.load(open(src + "-metadata")).get("round", 1))
        arrays = dict(np.load(src))
        if delta == "nan":
            out = {k: np.full_like(v, np.nan) for k, v in arrays.items()}
        else:
            out = {k: v + np.asarray(float(delta) * r, dtype=v.dtype) for k, v in arrays.items()}
        np.savez(dst, **out)
        json.dump({"num_examples": n, "train_loss": 1.0}, open(dst + "-metadata", "w"))
        """.write(to: script, atomically: true, encoding: .utf8)
        return script
    }

    /// The example-weighted mean delta per unit of round: (100·1 + 300·3 + 50·10) / 450.
    static let meanDelta: Double = 1500.0 / 450.0

    static func command(_ script: URL, _ delta: String, _ examples: Int) -> [String] {
        ["--train-command", "python3 \(script.path) {in} {out} \(delta) \(examples)"]
    }

    /// Clients a (+1·r, 100 examples) and b (+3·r, 300) and c (+10·r, 50), on two combiners.
    private func network() async throws -> (TestNetwork, seed: String)? {
        guard ScriptedTrainer.numpyAvailable else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("numpy is required in CI") }
            return nil
        }
        let net = try TestNetwork()
        let script = try Self.installScript(in: net.directory)
        try net.startController(heartbeat: 0.5)
        try await net.waitHealthy()
        try net.startCombiner("combiner-0")
        try net.startCombiner("combiner-1")
        try await net.waitOnline(combiners: 2)
        try net.uploadTinySeed()
        let models = try await net.get("/api/v1/models/") as? [String: Any]
        let seed = try #require((models?["result"] as? [[String: Any]])?.first?["model_id"] as? String)
        for (i, (id, delta, n)) in [("a", "1", 100), ("b", "3", 300), ("c", "10", 50)].enumerated() {
            try net.startClient(id, partition: "0/1", extra: Self.command(script, delta, n))
            try await net.waitOnline(clients: i + 1)
        }
        return (net, seed)
    }

    /// Runs a 2-round session from `seed`; returns its rounds (all Finished) and their models.
    private func run(_ net: TestNetwork, seed: String, _ name: String, _ aggregator: String, kwargs: [String: Double] = [:]) async throws -> [([String: Any], Model)] {
        let session = try await net.startSession([
            "rounds": 2, "round_timeout": 60, "validate": false, "model_id": seed, "aggregator": aggregator, "aggregator_kwargs": kwargs,
        ])
        try #require(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished", "\(aggregator):\n\(net.log("controller"))")
        let rounds = try await net.rounds(session)
        try #require(rounds.count == 2)
        var out: [([String: Any], Model)] = []
        for round in rounds {
            #expect(round["status"] as? String == "Finished")
            #expect(TestNetwork.contributors(round) == ["a", "b", "c"], "\(aggregator)")
            let reports = round["combiners"] as? [[String: Any]] ?? []
            #expect(reports.filter { $0["status"] as? String == "Success" }.count == 2, "\(aggregator): both combiners took part")
            out.append((round, try await net.downloadModel(try #require(round["model_out"] as? String))))
        }
        return out
    }

    /// Every value of the tiny seed shifted by `shift[r]` after round r.
    private func expectShifts(_ rounds: [([String: Any], Model)], _ shifts: [Double], _ what: String) throws {
        let w0: [Double] = [0, 1, 2, 3, 4, 5], b0: [Double] = [-1, 1]
        for ((_, model), shift) in zip(rounds, shifts) {
            let w = try model.float32s("w").map(Double.init), b = try model.float32s("b").map(Double.init)
            #expect(zip(w, w0).allSatisfy { abs($0 - ($1 + shift)) <= 1e-4 }, "\(what): w \(w), expected shift \(shift)")
            #expect(zip(b, b0).allSatisfy { abs($0 - ($1 + shift)) <= 1e-4 }, "\(what): b \(b), expected shift \(shift)")
        }
    }

    @Test func fedavgFedadamAndFedmedianOverTwoCombinersMatchHandComputedModels() async throws {
        guard let (net, seed) = try await network() else { return }
        defer { net.stopAll() }
        // The example-weighted mean delta per unit of round: (100·1 + 300·3 + 50·10) / 450.
        let d: Double = Self.meanDelta

        let fedavg = try await run(net, seed: seed, "avg", "fedavg")
        try expectShifts(fedavg, [d, d + 2 * d], "fedavg")

        // FedAdam with Flower's bias correction (FedAdam.swift), η = 0.1, β₁ = 0.9, β₂ = 0.99,
        // τ = 1e-3; Δ_t = t·d.
        let (eta, b1, b2, tau) = (0.1, 0.9, 0.99, 1e-3)
        var (m, v, shift) = (0.0, 0.0, 0.0)
        var adamShifts: [Double] = []
        for t in 1...2 {
            let delta = Double(t) * d
            m = b1 * m + (1 - b1) * delta
            v = b2 * v + (1 - b2) * delta * delta
            let etaT = eta * (1 - pow(b2, Double(t + 1))).squareRoot() / (1 - pow(b1, Double(t + 1)))
            shift += etaT * m / (v.squareRoot() + tau)
            adamShifts.append(shift)
        }
        let fedadam = try await run(net, seed: seed, "adam", "fedadam")
        try expectShifts(fedadam, adamShifts, "fedadam")
        let adamAggregation = (fedadam[0].0["round_data"] as? [String: Any])?["aggregation"] as? String ?? ""
        #expect(adamAggregation.contains("fedadam server step at the controller"), "\(adamAggregation)")

        // Coordinate-wise median of {1, 3, 10}·r, whatever the example counts.
        let fedmedian = try await run(net, seed: seed, "median", "fedmedian")
        try expectShifts(fedmedian, [3, 3 + 6], "fedmedian")
        let aggregation = (fedmedian[0].0["round_data"] as? [String: Any])?["aggregation"] as? String
        #expect(aggregation == "fedmedian at the controller, over 3 client updates")
    }

    @Test func nanUpdatesAreRejectedWithStatusEventsAndTheRoundCompletesFromTheOthers() async throws {
        guard let (net, seed) = try await network() else { return }
        defer { net.stopAll() }
        // A scripted trainer that writes NaN (its client refuses to send it, and says so) ...
        try net.startClient("nan", partition: "0/1", extra: Self.command(try Self.installScript(in: net.directory), "nan", 10))
        try await net.waitOnline(clients: 4)
        // ... and a hand-driven client that does send a NaN update, so the combiner refuses it.
        let joined = try await net.request("POST", "/api/v1/clients/add", json: ["client_id": "raw"])
        let address = try #require((joined.body as? [String: Any])?["combiner_address"] as? String)
        let peer = try PeerConnection(url: address)
        _ = try await peer.call(.clientRegister, ClientRegister(clientId: "raw", name: "raw"), expecting: .clientRegistered,
                                as: ClientRegistered.self, timeout: .seconds(5))
        let raw = Task {
            var sent = false
            while !Task.isCancelled {
                let reply = try? await peer.call(.clientHeartbeat, ClientHeartbeat(clientId: "raw"), expecting: .clientHeartbeatReply,
                                                 as: ClientHeartbeatReply.self, timeout: .seconds(5))
                if let task = reply?.task, !sent {
                    sent = true
                    var bad = TestNetwork.tinySeed
                    try? bad.setFloat32s("w", [0, .nan, 2, 3, 4, 5])
                    let header = UploadChunk(jobId: task.jobId, sessionId: task.sessionId, round: task.round, sender: "raw", index: 0,
                                             chunkCount: 0, offset: 0, totalBytes: bad.spec.totalBytes, checksum: bad.checksum, weight: 10, metrics: [:])
                    _ = try? await ModelTransfer.upload(bad, kind: .submitUpdate, header: header, chunkSize: task.chunkSize, to: peer,
                                                        timeout: .seconds(5), deadline: .now + .seconds(5))
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { raw.cancel() }
        try await net.waitOnline(clients: 5)

        let session = try await net.startSession(["rounds": 1, "round_timeout": 60, "validate": false, "model_id": seed])
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished", "\(net.log("controller"))")
        let round = try #require(try await net.rounds(session).first)
        #expect(round["status"] as? String == "Finished")
        #expect(TestNetwork.contributors(round) == ["a", "b", "c"])
        let model = try await net.downloadModel(try #require(round["model_out"] as? String))
        let b = try model.float32s("b").map(Double.init)
        #expect(abs(b[0] - (-1 + Self.meanDelta)) <= 1e-4 && abs(b[1] - (1 + Self.meanDelta)) <= 1e-4, "\(b)")

        let rejected = try await net.get("/api/v1/statuses/?sender_name=raw") as? [String: Any]
        let event = try #require((rejected?["result"] as? [[String: Any]])?.first, "no status event for raw: \(String(describing: rejected))")
        #expect(event["type"] as? String == "MODEL_UPDATE_REJECTED")
        #expect(event["session_id"] as? String == session)
        #expect((event["status"] as? String ?? "").contains("NaN"), "\(event)")
        let failed = try await net.get("/api/v1/statuses/?sender_name=nan") as? [String: Any]
        let nanEvent = try #require((failed?["result"] as? [[String: Any]])?.first, "no status event for nan")
        #expect((nanEvent["status"] as? String ?? "").contains("NaN"), "\(nanEvent)")
    }
}
