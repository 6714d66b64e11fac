import Foundation
import Testing
import TributaryModel

/// The benchmark path in miniature (what scripts/bench.sh runs, minus timing): one swarm
/// process hosting 20 logical clients with the no-op trainer, 2 combiners, a generated seed
/// model, a session with validation off. Asserts rounds complete with every client and the
/// model moved by the weighted mean of the clients' deltas. No timing assertions.
@Suite(.serialized) struct SwarmBenchTests {
    @Test func swarmOfNoopClientsCompletesRounds() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        let clients = 20, parameters = 1000, rounds = 2
        try net.startController(heartbeat: 0.5)
        try await net.waitHealthy()
        for i in 0..<2 { try net.startCombiner("combiner-\(i)") }
        try await net.waitOnline(combiners: 2)

        let seedFile = net.directory.appendingPathComponent("seed.npz")
        #expect(try net.runToEnd("tributary-client", ["seed-model", "--parameters", "\(parameters)", "--out", seedFile.path]) == 0)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seedFile.path]) == 0)
        try net.startClient("swarm", partition: "0/1", extra: ["--count", "\(clients)", "--trainer", "noop", "--examples", "50", "--log-level", "warning"])
        try await net.waitOnline(clients: clients)

        let session = try await net.startSession([
            "rounds": rounds, "round_timeout": 60, "clients_required": clients, "validate": false,
        ])
        let status = try await net.waitSessionEnd(session, timeout: .seconds(120))
        try #require(status == "Finished", "session ended \(status):\n\(net.log("controller"))\n\(net.log("swarm"))")

        let done = try await net.rounds(session)
        #expect(done.count == rounds)
        let everyone = Set((0..<clients).map { "swarm-\($0)" })
        for round in done {
            #expect(round["status"] as? String == "Finished")
            #expect(TestNetwork.contributors(round) == everyone)
        }
        // Equal example counts: each round adds the mean delta 1e-3 × mean(i + 1) = 1e-3 × 10.5.
        let seed = try NPZ.read(from: seedFile)
        let outId = try #require(done.last?["model_out"] as? String)
        let final = try await net.downloadModel(outId)
        let before = try seed.float32s("weights"), after = try final.float32s("weights")
        let expected = Float(rounds) * 1e-3 * 10.5
        #expect(zip(before, after).allSatisfy { abs($1 - $0 - expected) < 1e-4 })
    }
}
