import Foundation
import Testing

/// End-to-end: stragglers are cut off by `buffer_size` or the round timeout, and the round
/// records whom it left out.
@Suite(.serialized) struct StragglerTests {
    @Test func bufferSizeClosesTheRoundAfterTheFirstUpdatesAndRecordsTheStraggler() async throws {
        guard ScriptedTrainer.ready() else { return }
        let net = try TestNetwork()
        defer { net.stopAll() }
        let script = try ScriptedTrainer.install(in: net.directory)
        try await net.startCore(combiners: 1)
        try net.startClient("a", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 1, examples: 100))
        try net.startClient("b", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 3, examples: 300))
        try net.startClient("late", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 9, examples: 900, slowRounds: [1], sleepSeconds: 15))
        try await net.waitOnline(clients: 3)

        let session = try await net.startSession(["rounds": 1, "round_timeout": 60, "buffer_size": 2, "validate": false])
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(40)) == "Finished")
        let round = try #require(try await net.rounds(session).first)
        #expect(round["status"] as? String == "Finished")
        #expect(TestNetwork.contributors(round) == ["a", "b"])
        let report = try #require((round["combiners"] as? [[String: Any]])?.first)
        #expect(report["excluded"] as? [String] == ["late"])
        // Closed by the buffer, long before the 60 s timeout.
        #expect(((round["round_data"] as? [String: Any])?["time_training"] as? Double ?? 99) < 60)
    }
}
