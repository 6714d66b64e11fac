import Foundation
import Testing

/// End-to-end: what the REST facade shows is the real state of the network —
/// skipping a barrier closes a round with the updates in hand, continuing a finished
/// session runs more rounds, and clients' metrics, validations and predictions land one
/// row per client.
@Suite(.serialized) struct ControlPlaneTests {
    @Test func skipClosesTheBarrierWithTheUpdatesThatArrived() async throws {
        guard ScriptedTrainer.ready() else { return }
        let net = try TestNetwork()
        defer { net.stopAll() }
        let script = try ScriptedTrainer.install(in: net.directory)
        try await net.startCore(combiners: 1)
        try net.startClient("quick", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 1, examples: 100))
        try net.startClient("slow", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 9, examples: 100, slowRounds: [1], sleepSeconds: 120))
        try await net.waitOnline(clients: 2)

        let session = try await net.startSession(["rounds": 1, "round_timeout": 300, "validate": false])
        // Wait until the quick client's update is in, then skip the slow one.
        let arrived = await net.waitFor(timeout: .seconds(60)) { net.log("quick").contains("update sent") }
        #expect(arrived)
        let skip = try await net.request("POST", "/api/v1/control/skip")
        #expect(skip.status == 200, "\(String(describing: skip.body))")
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(60)) == "Finished")
        let round = try #require(try await net.rounds(session).first)
        #expect(round["status"] as? String == "Finished")
        #expect(TestNetwork.contributors(round) == ["quick"])
        // The skip is on the record, and it came long before the 300 s timeout.
        #expect(try await net.count("/api/v1/statuses/count?type=BARRIER_SKIPPED") == 1)
        #expect(((round["round_data"] as? [String: Any])?["time_training"] as? Double ?? 999) < 200)
    }

    @Test func continuedSessionRecordsRunsMetricsValidationsAndPredictions() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try await net.startCore(combiners: 2)
        // The built-in digits trainer needs its own layout as the seed (newest model wins).
        let seed = net.directory.appendingPathComponent("digits-seed.npz").path
        #expect(try net.runToEnd("tributary-client", ["seed-model", "--out", seed]) == 0)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed]) == 0)
        for i in 0..<3 { try net.startClient("site-\(i)", partition: "\(i)/3") }
        try await net.waitOnline(clients: 3)

        let session = try await net.startSession(["rounds": 2, "round_timeout": 60])
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished")
        let continued = try await net.request("POST", "/api/v1/sessions/start", json: ["session_id": session, "rounds": 1, "model_name_prefix": "more"])
        #expect(continued.status == 200, "\(String(describing: continued.body))")
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished")

        // Without `rounds`, a continuation runs as many as the last run did (1).
        #expect(try await net.request("POST", "/api/v1/sessions/start", json: ["session_id": session]).status == 200)
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished")

        #expect(try await net.count("/api/v1/rounds/count?session_id=\(session)") == 4)
        #expect(try await net.count("/api/v1/runs/count?session_id=\(session)") == 3)
        // One validation per client per round, each from a client to its combiner.
        let validations = try #require(try await net.get("/api/v1/validations/?sessionId=\(session)") as? [String: Any])
        #expect(validations["count"] as? Int == 12)
        let first = try #require((validations["result"] as? [[String: Any]])?.first)
        #expect((first["sender"] as? [String: Any])?["role"] as? String == "client")
        #expect(((first["receiver"] as? [String: Any])?["name"] as? String)?.hasPrefix("combiner") == true)
        let accuracy = try JSONSerialization.jsonObject(with: Data(try #require(first["data"] as? String).utf8)) as? [String: Double]
        #expect((accuracy?["accuracy"] ?? -1) > 0.5)
        // Training metrics: every client reported train_loss in every round.
        #expect(try await net.count("/api/v1/metrics/count?session_id=\(session)&key=train_loss") == 12)
        #expect(try await net.count("/api/v1/models/count?name=more_3") == 1)

        let latest = try #require((try await net.get("/api/v1/models/", headers: ["X-Limit": "1"]) as? [String: Any])?["result"] as? [[String: Any]])
        let model = try #require(latest.first?["model_id"] as? String)
        let started = try await net.request("POST", "/api/v1/predictions/start", json: ["prediction_id": "pred-1", "model_id": model])
        #expect(started.status == 200)
        #expect(await net.waitFor(timeout: .seconds(60)) { try await net.count("/api/v1/predictions/count?prediction_id=pred-1") == 3 })
        #expect(await net.waitFor(timeout: .seconds(10)) { try await net.count("/api/v1/statuses/count?type=PREDICTION_COMPLETED") == 1 })
    }
}
