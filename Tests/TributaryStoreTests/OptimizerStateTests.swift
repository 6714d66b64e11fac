import Foundation
import Testing
@testable import TributaryStore

/// Migration v2: server-optimizer state is kept with the round that produced it, survives a
/// reopen (a controller restart), and a round always reads its predecessor's state.
@Suite struct OptimizerStateTests {
    @Test func stateOfTheLastFinishedEarlierRoundIsRestoredAfterReopen() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-opt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(directory: directory)
        try store.insert(SessionRecord(sessionId: "s", name: "s", seedModelId: nil, config: SessionConfig()))
        for (number, status) in [(1, RoundRecord.Status.completed), (2, .completed), (3, .running)] {
            var round = RoundRecord(sessionId: "s", roundNumber: number, modelIn: "m\(number)")
            round.status = status
            try store.save(round)
            try store.saveOptimizerState(roundId: round.roundId, state: Data("{\"step\":\(number)}".utf8))
            // A later save of the round (status changes) must not drop the column.
            try store.save(round)
        }
        let reopened = try Store(directory: directory)
        #expect(try reopened.optimizerState(sessionId: "s", before: 1) == nil)
        #expect(try reopened.optimizerState(sessionId: "s", before: 2) == Data("{\"step\":1}".utf8))
        // Round 3 (interrupted, re-run) starts from round 2's state, never from its own.
        #expect(try reopened.optimizerState(sessionId: "s", before: 3) == Data("{\"step\":2}".utf8))
        #expect(try reopened.optimizerState(sessionId: "s", before: 4) == Data("{\"step\":2}".utf8))
        // REST listings of rounds do not carry the blob.
        let json = String(decoding: try JSONEncoder().encode(try #require(try reopened.fetch(RoundRecord.self, id: "s-r2"))), as: UTF8.self)
        #expect(!json.contains("optimizer_state"))
    }
}
