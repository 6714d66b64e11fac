import Foundation
import GRDB
import TributaryModel

/// A stored model: its row points at a file named by its id, written and fsynced first.
public struct ModelRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "model"
    public static let columns = ["model_id", "parent_model", "session_id", "round_number", "name", "checksum", "size_bytes", "committed_at", "updated_at"]

    public var modelId: String
    public var parentModel: String?
    public var sessionId: String?
    public var roundNumber: Int?
    public var name: String?
    /// Hex XXH3-64 of the flat data.
    public var checksum: String
    public var sizeBytes: Int
    public var parameterCount: Int
    public var spec: ModelSpec
    public var committedAt: Date
    public var updatedAt: Date
    /// How the model downloads by default: FEDn's `numpyhelper` (NumPy .npz) for models
    /// stored from .npz or produced by a numpyhelper session, `native` for models stored from
    /// Tributary's own format; nil (rows from before v4) means the network's active helper.
    public var helper: String?

    public init(modelId: String, model: Model, parent: String?, sessionId: String?, roundNumber: Int?, name: String?, helper: String? = nil, now: Date = Date()) {
        self.modelId = modelId
        self.parentModel = parent
        self.sessionId = sessionId
        self.roundNumber = roundNumber
        self.name = name
        self.checksum = String(model.checksum, radix: 16)
        self.sizeBytes = model.spec.totalBytes
        self.parameterCount = model.spec.parameterCount
        self.spec = model.spec
        self.committedAt = now
        self.updatedAt = now
        self.helper = helper
    }

    enum CodingKeys: String, CodingKey {
        case modelId = "model_id", parentModel = "parent_model", sessionId = "session_id", roundNumber = "round_number"
        case name, checksum, sizeBytes = "size_bytes", parameterCount = "parameter_count", spec
        case committedAt = "committed_at", updatedAt = "updated_at", helper
    }
}
