import Foundation
import GRDB

/// Liveness of a peer, from its heartbeats.
public enum PeerStatus: String, Codable, Sendable {
    /// Assigned by the controller, not yet seen at its combiner.
    case available
    case online, stale, offline
}

public struct CombinerRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "combiner"
    public static let columns = ["combiner_id", "name", "address", "publish_address", "status", "clients_online", "last_seen",
                                 "internal_hostname", "public_hostname", "committed_at", "updated_at"]

    public var combinerId: String
    public var name: String
    /// nng REP address clients dial.
    public var address: String
    public var publishAddress: String
    public var status: PeerStatus
    public var clientsOnline: Int
    public var lastSeen: Date
    /// Host names an operator set (`PATCH /api/v1/combiners/{id}`), for display and discovery.
    public var internalHostname: String?
    public var publicHostname: String?
    public var committedAt: Date
    public var updatedAt: Date

    public init(combinerId: String, name: String, address: String, publishAddress: String, now: Date = Date()) {
        self.combinerId = combinerId
        self.name = name
        self.address = address
        self.publishAddress = publishAddress
        self.status = .online
        self.clientsOnline = 0
        self.lastSeen = now
        self.committedAt = now
        self.updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case combinerId = "combiner_id", name, address, publishAddress = "publish_address", status
        case clientsOnline = "clients_online", lastSeen = "last_seen", internalHostname = "internal_hostname", publicHostname = "public_hostname"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}

public struct ClientRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "client"
    public static let columns = ["client_id", "name", "combiner", "combiner_preferred", "status", "ip", "package", "last_seen", "committed_at", "updated_at"]

    public var clientId: String
    public var name: String
    /// Name of the combiner the client was assigned to.
    public var combiner: String
    public var combinerPreferred: String?
    public var status: PeerStatus
    public var ip: String?
    public var package: String?
    public var lastSeen: Date
    public var committedAt: Date
    public var updatedAt: Date

    public init(clientId: String, name: String, combiner: String, combinerPreferred: String?, ip: String?, package: String?, now: Date = Date()) {
        self.clientId = clientId
        self.name = name
        self.combiner = combiner
        self.combinerPreferred = combinerPreferred
        self.status = .available
        self.ip = ip
        self.package = package
        self.lastSeen = now
        self.committedAt = now
        self.updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id", name, combiner, combinerPreferred = "combiner_preferred", status, ip, package
        case lastSeen = "last_seen", committedAt = "committed_at", updatedAt = "updated_at"
    }
}
