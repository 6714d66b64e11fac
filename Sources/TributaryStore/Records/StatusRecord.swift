import Foundation
import GRDB

/// A status event (FEDn's `/statuses`): something a peer reported that an operator should
/// see, such as a client update a combiner refused. `sender` is flattened into
/// `sender_name` / `sender_role` so it can be filtered on like any other column.
public struct StatusRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "status"
    public static let columns = ["status_id", "status", "log_level", "type", "session_id", "round_number", "sender_name", "sender_role", "committed_at", "updated_at"]

    public var statusId: String
    /// Human-readable text of the event.
    public var status: String
    public var logLevel: String
    /// e.g. `MODEL_UPDATE_REJECTED` (a combiner refused a client's update), `CLIENT_FAILED`.
    public var type: String
    public var sessionId: String?
    public var roundNumber: Int?
    public var senderName: String
    public var senderRole: String
    public var committedAt: Date
    public var updatedAt: Date

    public init(status: String, logLevel: String = "WARNING", type: String, sessionId: String?, roundNumber: Int?,
                senderName: String, senderRole: String, now: Date = Date()) {
        self.statusId = UUID().uuidString.lowercased()
        self.status = status
        self.logLevel = logLevel
        self.type = type
        self.sessionId = sessionId
        self.roundNumber = roundNumber
        self.senderName = senderName
        self.senderRole = senderRole
        self.committedAt = now
        self.updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case statusId = "status_id", status, logLevel = "log_level", type, sessionId = "session_id", roundNumber = "round_number"
        case senderName = "sender_name", senderRole = "sender_role", committedAt = "committed_at", updatedAt = "updated_at"
    }
}
