import Foundation
import GRDB

/// A status event (FEDn's `/statuses`): something that happened in the network that an
/// operator should see — a session or round starting and ending, a client update a combiner
/// refused, a custom command. The sender is stored flat so it can be filtered on.
public struct StatusRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, SenderColumns {
    public static let databaseTableName = "status"
    public static let columns = ["status_id", "status", "log_level", "type", "session_id", "round_number", "correlation_id"]
        + NodeRef.columns("sender") + ["committed_at", "updated_at"]

    public var statusId: String
    /// Human-readable text of the event.
    public var status: String
    public var logLevel: String
    /// e.g. `SESSION_STARTED`, `ROUND_COMPLETED`, `MODEL_UPDATE_REJECTED`, `CLIENT_FAILED`.
    public var type: String
    public var sessionId: String?
    public var roundNumber: Int?
    /// Ties related events together (a command and its outcome, a prediction run).
    public var correlationId: String?
    /// Structured details as JSON text (FEDn stores the related message here).
    public var data: String?
    public var extra: String?
    public var senderName: String? = nil
    public var senderRole: String? = nil
    public var senderClientId: String? = nil
    public var senderCombinerId: String? = nil
    public var committedAt: Date
    public var updatedAt: Date

    public init(status: String, logLevel: String = "WARNING", type: String, sessionId: String?, roundNumber: Int?,
                sender: NodeRef, correlationId: String? = nil, data: String? = nil, extra: String? = nil, now: Date = Date()) {
        self.statusId = Store.newId()
        self.status = status
        self.logLevel = logLevel
        self.type = type
        self.sessionId = sessionId
        self.roundNumber = roundNumber
        self.correlationId = correlationId
        self.data = data
        self.extra = extra
        self.committedAt = now
        self.updatedAt = now
        self.sender = sender
    }

    /// A sender given by name and role.
    public init(status: String, logLevel: String = "WARNING", type: String, sessionId: String?, roundNumber: Int?,
                senderName: String, senderRole: String, now: Date = Date()) {
        let sender = senderRole == "client" ? NodeRef.client(senderName) : NodeRef(name: senderName, role: senderRole)
        self.init(status: status, logLevel: logLevel, type: type, sessionId: sessionId, roundNumber: roundNumber, sender: sender, now: now)
    }

    enum CodingKeys: String, CodingKey {
        case statusId = "status_id", status, logLevel = "log_level", type, sessionId = "session_id", roundNumber = "round_number"
        case correlationId = "correlation_id", data, extra
        case senderName = "sender_name", senderRole = "sender_role", senderClientId = "sender_client_id", senderCombinerId = "sender_combiner_id"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}
