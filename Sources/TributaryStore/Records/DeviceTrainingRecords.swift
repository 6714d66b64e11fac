import Foundation
import GRDB

/// An organisation's API key for the device API (Octomil's org keys): whoever holds it may
/// register devices into its org and act for them. Kept only as a SHA-256 hash; the key itself
/// is shown once, when it is created.
public struct OrgKeyRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "org_key"

    public var id: String
    public var orgId: String
    public var name: String
    public var keyHash: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: String, orgId: String, name: String, keyHash: String, now: Date = Date()) {
        self.id = id
        self.orgId = orgId
        self.name = name
        self.keyHash = keyHash
        self.createdAt = now
        self.revokedAt = nil
    }

    enum CodingKeys: String, CodingKey {
        case id, orgId = "org_id", name, keyHash = "key_hash", createdAt = "created_at", revokedAt = "revoked_at"
    }
}

/// A device's weights upload (`POST /training/weights`) kept for a later aggregation of its
/// model version: validated (layout of the version, finite values) before it is stored; the
/// weights themselves are a file in the store's `updates` directory named by `id`.
public struct DeviceUpdateRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "device_update"

    public var id: String
    /// Server id of the device.
    public var deviceId: String
    /// The registry model (lineage root) and the version (a stored model id) it was trained from.
    public var modelId: String
    public var version: String
    public var roundId: String?
    public var sampleCount: Int
    public var metrics: [String: Double]
    /// `weights` or `delta`, as uploaded (the stored file holds full weights either way).
    public var updateFormat: String
    public var sizeBytes: Int
    /// The model version an aggregation folded this update into (nil until then).
    public var aggregatedInto: String?
    public var receivedAt: Date

    public init(id: String, deviceId: String, modelId: String, version: String, roundId: String?, sampleCount: Int,
                metrics: [String: Double], updateFormat: String, sizeBytes: Int, now: Date = Date()) {
        self.id = id
        self.deviceId = deviceId
        self.modelId = modelId
        self.version = version
        self.roundId = roundId
        self.sampleCount = sampleCount
        self.metrics = metrics
        self.updateFormat = updateFormat
        self.sizeBytes = sizeBytes
        self.aggregatedInto = nil
        self.receivedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case id, deviceId = "device_id", modelId = "model_id", version, roundId = "round_id", sampleCount = "sample_count"
        case metrics, updateFormat = "update_format", sizeBytes = "size_bytes", aggregatedInto = "aggregated_into", receivedAt = "received_at"
    }
}

/// An on-device training job: created when a device accepts a round or starts personalizing,
/// then progress and state changes, then completion with final metrics.
public struct TrainingJobRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "training_job"

    public var id: String
    public var deviceId: String
    public var roundId: String?
    public var modelId: String?
    /// created, running, paused, completed, failed or cancelled.
    public var state: String
    /// The latest progress report and the final metrics, as JSON objects.
    public var progress: String
    public var metrics: String
    public var adapterArtifact: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?

    public init(id: String, deviceId: String, roundId: String?, modelId: String?, now: Date = Date()) {
        self.id = id
        self.deviceId = deviceId
        self.roundId = roundId
        self.modelId = modelId
        self.state = "created"
        self.progress = "{}"
        self.metrics = "{}"
        self.adapterArtifact = nil
        self.createdAt = now
        self.updatedAt = now
        self.completedAt = nil
    }

    enum CodingKeys: String, CodingKey {
        case id, deviceId = "device_id", roundId = "round_id", modelId = "model_id", state, progress, metrics
        case adapterArtifact = "adapter_artifact", createdAt = "created_at", updatedAt = "updated_at", completedAt = "completed_at"
    }
}

/// A device's personalized model state for one (device, model, federation): its metrics, the
/// personalization strategy, and whether personalized weights are stored (`weightsKey` names
/// the file in the store's `updates` directory).
public struct PersonalizationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "personalization"

    public var deviceId: String
    public var modelId: String
    public var federationId: String
    public var strategy: String
    public var metrics: [String: Double]
    public var weightsKey: String?
    public var weightsBytes: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(deviceId: String, modelId: String, federationId: String, strategy: String, now: Date = Date()) {
        self.deviceId = deviceId
        self.modelId = modelId
        self.federationId = federationId
        self.strategy = strategy
        self.metrics = [:]
        self.weightsKey = nil
        self.weightsBytes = 0
        self.createdAt = now
        self.updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case deviceId = "device_id", modelId = "model_id", federationId = "federation_id", strategy, metrics
        case weightsKey = "weights_key", weightsBytes = "weights_bytes", createdAt = "created_at", updatedAt = "updated_at"
    }
}
