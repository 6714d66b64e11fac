import Foundation
import GRDB

/// One value a client reported while training (FEDn's `/metrics`): e.g. `train_loss` at
/// round `step` for the model the client started from.
public struct MetricRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, SenderColumns {
    public static let databaseTableName = "metric"
    public static let columns = ["metric_id", "key", "value", "step", "model_id", "round_id", "session_id"]
        + NodeRef.columns("sender") + ["committed_at", "updated_at"]

    public var metricId: String
    public var key: String
    public var value: Double
    public var step: Int?
    public var modelId: String?
    public var roundId: String?
    public var sessionId: String?
    public var senderName: String? = nil
    public var senderRole: String? = nil
    public var senderClientId: String? = nil
    public var senderCombinerId: String? = nil
    public var committedAt: Date
    public var updatedAt: Date

    public init(key: String, value: Double, step: Int?, modelId: String?, roundId: String?, sessionId: String?, sender: NodeRef, now: Date = Date()) {
        metricId = Store.newId()
        self.key = key
        self.value = value
        self.step = step
        self.modelId = modelId
        self.roundId = roundId
        self.sessionId = sessionId
        committedAt = now
        updatedAt = now
        self.sender = sender
    }

    enum CodingKeys: String, CodingKey {
        case metricId = "metric_id", key, value, step, modelId = "model_id", roundId = "round_id", sessionId = "session_id"
        case senderName = "sender_name", senderRole = "sender_role", senderClientId = "sender_client_id", senderCombinerId = "sender_combiner_id"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}

/// A key/value a node reports about itself (FEDn's `/attributes`, e.g. `gpu=a100`); the
/// latest value per key is the node's current attribute.
public struct AttributeRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, SenderColumns {
    public static let databaseTableName = "attribute"
    public static let columns = ["attribute_id", "key", "value"] + NodeRef.columns("sender") + ["committed_at", "updated_at"]

    public var attributeId: String
    public var key: String
    public var value: String
    public var senderName: String? = nil
    public var senderRole: String? = nil
    public var senderClientId: String? = nil
    public var senderCombinerId: String? = nil
    public var committedAt: Date
    public var updatedAt: Date

    public init(key: String, value: String, sender: NodeRef, now: Date = Date()) {
        attributeId = Store.newId()
        self.key = key
        self.value = value
        committedAt = now
        updatedAt = now
        self.sender = sender
    }

    enum CodingKeys: String, CodingKey {
        case attributeId = "attribute_id", key, value
        case senderName = "sender_name", senderRole = "sender_role", senderClientId = "sender_client_id", senderCombinerId = "sender_combiner_id"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}

/// A telemetry reading a node pushes (FEDn's `/telemetry`), e.g. `cpu_usage=0.42`.
public struct TelemetryRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, SenderColumns {
    public static let databaseTableName = "telemetry"
    public static let columns = ["telemetry_id", "key", "value", "client_id", "session_id"] + NodeRef.columns("sender") + ["committed_at", "updated_at"]

    public var telemetryId: String
    public var key: String
    public var value: Double?
    public var clientId: String?
    public var sessionId: String?
    /// Free-form context as JSON text.
    public var meta: String?
    public var senderName: String? = nil
    public var senderRole: String? = nil
    public var senderClientId: String? = nil
    public var senderCombinerId: String? = nil
    public var committedAt: Date
    public var updatedAt: Date

    public init(key: String, value: Double?, clientId: String?, sessionId: String?, meta: String?, sender: NodeRef, now: Date = Date()) {
        telemetryId = Store.newId()
        self.key = key
        self.value = value
        self.clientId = clientId
        self.sessionId = sessionId
        self.meta = meta
        committedAt = now
        updatedAt = now
        self.sender = sender
    }

    enum CodingKeys: String, CodingKey {
        case telemetryId = "telemetry_id", key, value, clientId = "client_id", sessionId = "session_id", meta
        case senderName = "sender_name", senderRole = "sender_role", senderClientId = "sender_client_id", senderCombinerId = "sender_combiner_id"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}
