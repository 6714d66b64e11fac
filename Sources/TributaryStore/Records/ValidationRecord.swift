import Foundation
import GRDB

/// One client's evaluation of a model (FEDn's `/validations`): `data` is the JSON text of
/// the metrics the client reported, as FEDn stores it.
public struct ValidationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, SenderColumns, ReceiverColumns {
    public static let databaseTableName = "validation"
    public static let columns = ["validation_id", "model_id", "session_id", "round_number", "correlation_id", "num_examples"]
        + NodeRef.columns("sender") + NodeRef.columns("receiver") + ["committed_at", "updated_at"]

    public var validationId: String
    public var modelId: String
    public var sessionId: String?
    public var roundNumber: Int?
    public var correlationId: String?
    public var numExamples: Int
    public var data: String
    public var meta: String?
    public var senderName: String? = nil
    public var senderRole: String? = nil
    public var senderClientId: String? = nil
    public var senderCombinerId: String? = nil
    public var receiverName: String? = nil
    public var receiverRole: String? = nil
    public var receiverClientId: String? = nil
    public var receiverCombinerId: String? = nil
    public var committedAt: Date
    public var updatedAt: Date

    public init(modelId: String, sessionId: String?, roundNumber: Int?, correlationId: String?, numExamples: Int,
                metrics: [String: Double], sender: NodeRef, receiver: NodeRef, now: Date = Date()) {
        validationId = Store.newId()
        self.modelId = modelId
        self.sessionId = sessionId
        self.roundNumber = roundNumber
        self.correlationId = correlationId
        self.numExamples = numExamples
        data = jsonText(metrics) ?? "{}"
        committedAt = now
        updatedAt = now
        self.sender = sender
        self.receiver = receiver
    }

    enum CodingKeys: String, CodingKey {
        case validationId = "validation_id", modelId = "model_id", sessionId = "session_id", roundNumber = "round_number"
        case correlationId = "correlation_id", numExamples = "num_examples", data, meta
        case senderName = "sender_name", senderRole = "sender_role", senderClientId = "sender_client_id", senderCombinerId = "sender_combiner_id"
        case receiverName = "receiver_name", receiverRole = "receiver_role", receiverClientId = "receiver_client_id"
        case receiverCombinerId = "receiver_combiner_id"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}

/// One client's inference on a model (FEDn's `/predictions`): all clients' rows of one
/// prediction run share its `prediction_id`; `data` is the JSON text the client reported.
public struct PredictionRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, SenderColumns, ReceiverColumns {
    public static let databaseTableName = "prediction"
    public static let columns = ["id", "prediction_id", "model_id", "correlation_id", "num_examples"]
        + NodeRef.columns("sender") + NodeRef.columns("receiver") + ["committed_at", "updated_at"]

    public var id: String
    public var predictionId: String
    public var modelId: String
    public var correlationId: String?
    public var numExamples: Int
    public var data: String
    public var meta: String?
    public var senderName: String? = nil
    public var senderRole: String? = nil
    public var senderClientId: String? = nil
    public var senderCombinerId: String? = nil
    public var receiverName: String? = nil
    public var receiverRole: String? = nil
    public var receiverClientId: String? = nil
    public var receiverCombinerId: String? = nil
    public var committedAt: Date
    public var updatedAt: Date

    public init(predictionId: String, modelId: String, numExamples: Int, output: [String: Double], sender: NodeRef, receiver: NodeRef, now: Date = Date()) {
        id = Store.newId()
        self.predictionId = predictionId
        self.modelId = modelId
        correlationId = predictionId
        self.numExamples = numExamples
        data = jsonText(output) ?? "{}"
        committedAt = now
        updatedAt = now
        self.sender = sender
        self.receiver = receiver
    }

    enum CodingKeys: String, CodingKey {
        case id, predictionId = "prediction_id", modelId = "model_id", correlationId = "correlation_id", numExamples = "num_examples", data, meta
        case senderName = "sender_name", senderRole = "sender_role", senderClientId = "sender_client_id", senderCombinerId = "sender_combiner_id"
        case receiverName = "receiver_name", receiverRole = "receiver_role", receiverClientId = "receiver_client_id"
        case receiverCombinerId = "receiver_combiner_id"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}
