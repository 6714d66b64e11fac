import Foundation
import GRDB

/// An HTTP device (phone, browser, edge box) registered with the device API. Its API key is
/// kept only as a SHA-256 hash; the key itself is shown once, at registration.
public struct DeviceRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "device"

    /// Server id (a uuid4 string).
    public var id: String
    /// The device's own identifier (`device_id` in the docs, `device_identifier` in the SDKs).
    public var deviceIdentifier: String
    public var orgId: String?
    public var platform: String
    /// Free-form JSON objects: `capabilities`, and every other registration field.
    public var capabilities: String
    public var registration: String
    public var apiKeyHash: String
    /// What the device last reported (`active` or `inactive`).
    public var reportedStatus: String
    /// The last heartbeat's `metrics`, as JSON.
    public var metrics: String
    public var lastHeartbeat: Date?
    public var createdAt: Date

    public init(id: String, deviceIdentifier: String, orgId: String?, platform: String, capabilities: String, registration: String,
                apiKeyHash: String, now: Date = Date()) {
        self.id = id
        self.deviceIdentifier = deviceIdentifier
        self.orgId = orgId
        self.platform = platform
        self.capabilities = capabilities
        self.registration = registration
        self.apiKeyHash = apiKeyHash
        self.reportedStatus = "active"
        self.metrics = "{}"
        self.lastHeartbeat = nil
        self.createdAt = now
    }

    enum CodingKeys: String, CodingKey {
        case id, deviceIdentifier = "device_identifier", orgId = "org_id", platform, capabilities, registration
        case apiKeyHash = "api_key_hash", reportedStatus = "reported_status", metrics, lastHeartbeat = "last_heartbeat", createdAt = "created_at"
    }
}
