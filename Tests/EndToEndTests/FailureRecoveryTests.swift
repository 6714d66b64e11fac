import Foundation
import Testing
import TributaryModel
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: real processes are killed mid-round (kill -9) and the network keeps training.
/// Scripted trainers make the updates known, so every stored model is checked exactly.
@Suite(.serialized) struct FailureRecoveryTests {
    private func prepare() throws -> (TestNetwork, URL)? {
        guard ScriptedTrainer.ready() else { return nil }
        let net = try TestNetwork()
        return (net, try ScriptedTrainer.install(in: net.directory))
    }

    private func expectShift(_ net: TestNetwork, model: String, by shift: Float) async throws {
        let stored = try await net.downloadModel(model)
        #expect(try stored.float32s("w") == [0, 1, 2, 3, 4, 5].map { $0 + shift })
        #expect(try stored.float32s("b") == [-1 + shift, 1 + shift])
    }

    @Test func clientKilledMidRoundIsDroppedAndTheRoundCompletesFromTheRest() async throws {
        guard let (net, script) = try prepare() else { return }
        defer { net.stopAll() }
        try await net.startCore(combiners: 1)
        try net.startClient("a", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 1, examples: 100))
        try net.startClient("b", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 3, examples: 300))
        try net.startClient("slow", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 50, examples: 1000, slowRounds: [1], sleepSeconds: 20))
        try await net.waitOnline(clients: 3)

        let session = try await net.startSession(["rounds": 2, "round_timeout": 30, "validate": false])
        try await Task.sleep(for: .seconds(1.5))   // every client has its task; "slow" is still training
        net.signal("slow", SIGKILL)

        #expect(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished")
        let rounds = try await net.rounds(session)
        try #require(rounds.count == 2)
        for round in rounds {
            #expect(round["status"] as? String == "Finished")
            #expect(TestNetwork.contributors(round) == ["a", "b"])
        }
        // The dead client was dropped after missed heartbeats, not waited for until the timeout.
        let data = rounds[0]["round_data"] as? [String: Any] ?? [:]
        #expect((data["time_training"] as? Double ?? 99) < 30)
        try await expectShift(net, model: try #require(rounds[0]["model_out"] as? String), by: 2.5)
        try await expectShift(net, model: try #require(rounds[1]["model_out"] as? String), by: 5)
    }

    @Test func combinerKilledMidRoundTimesOutAndItsClientsRejoinAnother() async throws {
        guard let (net, script) = try prepare() else { return }
        defer { net.stopAll() }
        try await net.startCore(combiners: 2)
        // Least-loaded placement: a on combiner-0, b on combiner-1. b is slow in round 1.
        try net.startClient("a", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 1, examples: 100))
        try await net.waitOnline(clients: 1)
        try net.startClient("b", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 3, examples: 300, slowRounds: [1], sleepSeconds: 4))
        try await net.waitOnline(clients: 2)
        let placed = try await net.get("/api/v1/clients/b") as? [String: Any]
        try #require(placed?["combiner"] as? String == "combiner-1")

        let session = try await net.startSession(["rounds": 3, "round_timeout": 8, "validate": false])
        try await Task.sleep(for: .seconds(1))
        net.signal("combiner-1", SIGKILL)

        #expect(try await net.waitSessionEnd(session, timeout: .seconds(120)) == "Finished")
        let rounds = try await net.rounds(session)
        try #require(rounds.count == 3)
        // Round 1 closed at its timeout with combiner-0's partial only.
        #expect(rounds[0]["status"] as? String == "Finished")
        #expect(TestNetwork.contributors(rounds[0]) == ["a"])
        let reports = rounds[0]["combiners"] as? [[String: Any]] ?? []
        #expect(reports.first { $0["name"] as? String == "combiner-1" }?["status"] as? String == "NoReport")
        try await expectShift(net, model: try #require(rounds[0]["model_out"] as? String), by: 1)
        // b re-joined the live combiner and took part again.
        #expect((try await net.get("/api/v1/clients/b") as? [String: Any])?["combiner"] as? String == "combiner-0")
        #expect(TestNetwork.contributors(rounds[2]) == ["a", "b"], "rounds: \(rounds.map(TestNetwork.contributors))")
    }

    @Test func controllerKilledAndRestartedMidSessionFinishesWithAnIntactModelTrail() async throws {
        guard let (net, script) = try prepare() else { return }
        defer { net.stopAll() }
        try await net.startCore(combiners: 1)
        let seed = try #require(((try await net.get("/api/v1/models/") as? [String: Any])?["result"] as? [[String: Any]])?.first?["model_id"] as? String)
        // Every round takes a second or more, so the kill lands inside one.
        try net.startClient("a", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 1, examples: 100, slowRounds: [1, 2, 3, 4], sleepSeconds: 1))
        try net.startClient("b", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 3, examples: 300, slowRounds: [1, 2, 3, 4], sleepSeconds: 1))
        try await net.waitOnline(clients: 2)

        let session = try await net.startSession(["rounds": 4, "round_timeout": 30, "validate": false])
        let reachedTwo = await net.waitFor(timeout: .seconds(60)) { try await net.roundStatus(session, 2) == "Finished" }
        try #require(reachedTwo, "\(net.log("controller"))")
        try await Task.sleep(for: .milliseconds(300))
        net.signal("controller", SIGKILL)
        net.processes["controller"]?.waitUntilExit()
        try net.startController(heartbeat: 0.5)   // same data directory and ports

        #expect(try await net.waitSessionEnd(session, timeout: .seconds(120)) == "Finished", "\(net.log("controller"))")
        let rounds = try await net.rounds(session)
        #expect(rounds.map { $0["round_number"] as? Int } == [1, 2, 3, 4])       // no gaps, no duplicates
        var parent = seed
        for (index, round) in rounds.enumerated() {
            #expect(round["status"] as? String == "Finished")
            #expect(round["model_in"] as? String == parent)
            let out = try #require(round["model_out"] as? String)
            #expect((try await net.get("/api/v1/models/\(out)") as? [String: Any])?["parent_model"] as? String == parent)
            try await expectShift(net, model: out, by: 2.5 * Float(index + 1))
            parent = out
        }
        #expect(try await net.count("/api/v1/models/count?session_id=\(session)") == 4)   // one model per round
        // The round the kill interrupted was run again, and says so.
        let attempts = rounds.map { ($0["round_data"] as? [String: Any])?["attempt"] as? Int ?? 0 }
        #expect(attempts == [1, 1, 2, 1], "attempts per round: \(attempts)")
    }
}
