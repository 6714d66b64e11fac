import Foundation
import GRDB

extension Store {
    /// Records the server-optimizer state a round's step produced (column `optimizer_state`,
    /// migration v2). Written before the round is marked Finished: if the controller dies in
    /// between, the round is re-run and overwrites it.
    public func saveOptimizerState(roundId: String, state: Data) throws {
        let text = String(decoding: state, as: UTF8.self)
        try database.write { db in
            try db.execute(sql: "UPDATE round SET optimizer_state = ? WHERE round_id = ?", arguments: [text, roundId])
        }
    }

    /// The optimizer state of the session's last Finished round before `roundNumber`, or nil
    /// (first round). A round always starts from its predecessor's state, never from its own,
    /// so a round re-run after a restart cannot apply a step twice.
    public func optimizerState(sessionId: String, before roundNumber: Int) throws -> Data? {
        try database.read { db in
            try String.fetchOne(db, sql: """
                SELECT optimizer_state FROM round WHERE session_id = ? AND round_number < ? AND status = ?
                ORDER BY round_number DESC LIMIT 1
                """, arguments: [sessionId, roundNumber, RoundRecord.Status.completed.rawValue])
        }.map { Data($0.utf8) }
    }
}
