import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: the real executables as separate processes, talking over nng on loopback.
@Suite(.serialized) struct NetworkTrainsTests {
    /// Brings up a controller, `combiners` combiners and `clients` built-in-trainer clients,
    /// stores the seed model, and waits until every client is online.
    private func bringUp(_ net: TestNetwork, combiners: Int, clients: Int, heartbeat: Double = 0.5) async throws {
        try net.startController(heartbeat: heartbeat)
        let healthy = await net.waitFor(timeout: .seconds(30)) { try await net.request("GET", "/health").status == 200 }
        try #require(healthy, "controller did not come up:\n\(net.log("controller"))")
        for i in 0..<combiners { try net.startCombiner("combiner-\(i)") }
        let joined = await net.waitFor(timeout: .seconds(30)) { try await net.count("/api/v1/combiners/count?status=online") == combiners }
        try #require(joined, "combiners did not register:\n\(net.log("combiner-0"))")

        let seed = net.directory.appendingPathComponent("seed.npz").path
        #expect(try net.runToEnd("tributary-client", ["seed-model", "--out", seed]) == 0)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed]) == 0)
        for i in 0..<clients { try net.startClient("client-\(i)", partition: "\(i)/\(clients)") }
        let online = await net.waitFor(timeout: .seconds(60)) { try await net.count("/api/v1/clients/count?status=online") == clients }
        try #require(online, "clients did not come online:\n\(net.log("client-0"))\n\(net.log("combiner-0"))")
    }

    private func createSession(_ net: TestNetwork, config: [String: Any]) async throws -> String {
        let created = try await net.request("POST", "/api/v1/sessions/", json: ["session_config": config])
        #expect(created.status == 201)
        return try #require((created.body as? [String: Any])?["session_id"] as? String)
    }

    private func rounds(_ net: TestNetwork, session: String) async throws -> [[String: Any]] {
        let list = try await net.get("/api/v1/rounds/?session_id=\(session)", headers: ["X-Sort-Key": "round_number", "X-Sort-Order": "asc"])
        return (list as? [String: Any])?["result"] as? [[String: Any]] ?? []
    }

    private func sessionStatus(_ net: TestNetwork, _ id: String) async throws -> String? {
        (try await net.get("/api/v1/sessions/\(id)") as? [String: Any])?["status"] as? String
    }

    @Test func multiRoundSessionTrainsAcrossProcesses() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try await bringUp(net, combiners: 2, clients: 3)

        // Both combiners got clients: least-loaded placement.
        let placed = try await net.get("/api/v1/clients/") as? [String: Any]
        let combinersUsed = Set(((placed?["result"] as? [[String: Any]]) ?? []).compactMap { $0["combiner"] as? String })
        #expect(combinersUsed == ["combiner-0", "combiner-1"])

        let session = try await createSession(net, config: [
            "rounds": 3, "round_timeout": 30, "clients_required": 3,
            "training": ["local_epochs": 2, "learning_rate": 0.1, "batch_size": 16],
        ])
        let started = try await net.request("POST", "/api/v1/sessions/start", json: ["session_id": session])
        #expect(started.status == 200)
        let finished = await net.waitFor(timeout: .seconds(120)) { try await sessionStatus(net, session) == "Finished" }
        try #require(finished, "session did not finish:\n\(net.log("controller"))")

        let done = try await rounds(net, session: session)
        #expect(done.count == 3)
        var parent = try #require((try await net.get("/api/v1/sessions/\(session)") as? [String: Any])?["seed_model_id"] as? String)
        var accuracies: [Double] = []
        for round in done {
            #expect(round["status"] as? String == "Finished")
            #expect(round["model_in"] as? String == parent)
            let out = try #require(round["model_out"] as? String)
            let model = try #require(try await net.get("/api/v1/models/\(out)") as? [String: Any])
            #expect(model["parent_model"] as? String == parent)      // the model trail has no gaps
            parent = out
            let combiners = round["combiners"] as? [[String: Any]] ?? []
            let clients = combiners.reduce(0) { $0 + (($1["clients"] as? [Any])?.count ?? 0) }
            #expect(clients == 3)                                    // every client's update was folded in
            let data = round["round_data"] as? [String: Any] ?? [:]
            let validation = data["validation"] as? [String: Any] ?? [:]
            accuracies.append(try #require(validation["accuracy"] as? Double))
        }
        // Real learning on the held-out digits: far above chance (0.1) after three rounds.
        #expect(accuracies.last! > 0.85, "accuracies: \(accuracies)")
    }

    @Test func roundFailsAfterTimeoutWhenCombinerNeverAnswers() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        // Slow heartbeats, so the frozen combiner still counts as online when the round starts.
        try await bringUp(net, combiners: 1, clients: 1, heartbeat: 5)
        let session = try await createSession(net, config: ["rounds": 1, "round_timeout": 1, "validate": false])
        net.signal("combiner-0", SIGSTOP)   // alive but never answers
        let started = try await net.request("POST", "/api/v1/sessions/start", json: ["session_id": session])
        #expect(started.status == 200)
        // round_timeout 1 s + grace 5.25 s: the round must end well within 30 s.
        let ended = await net.waitFor(timeout: .seconds(30)) {
            let status = try await sessionStatus(net, session)
            return status != "Started" && status != "Created"
        }
        try #require(ended, "session hung:\n\(net.log("controller"))")
        let round = try #require(try await rounds(net, session: session).first)
        #expect(round["status"] as? String == "Failed")
        let reports = round["combiners"] as? [[String: Any]] ?? []
        #expect(reports.first?["status"] as? String == "NoReport")
        #expect(round["model_out"] == nil || round["model_out"] is NSNull)
    }
}
