import Foundation
import GRDB
import TributaryStore

/// The registry of HTTP participants (`http_client` rows): who registered, and who is active
/// — seen on the API within `activeWindow`, as nng clients are online while they heartbeat.
struct HTTPParticipants: Sendable {
    let store: Store
    /// A participant that polls (status, model) at least this often counts as active.
    var activeWindow: TimeInterval = 60
    /// A device counts as active while it heartbeats (online: within 2 heartbeat intervals).
    var deviceWindow: TimeInterval = 60

    func all() throws -> [HTTPClientRecord] {
        try store.database.read { db in try HTTPClientRecord.order(Column("client_id")).fetchAll(db) }
    }

    func find(_ id: String) throws -> HTTPClientRecord? {
        try store.fetch(HTTPClientRecord.self, id: id)
    }

    func isActive(_ record: HTTPClientRecord, now: Date = Date()) -> Bool {
        now.timeIntervalSince(record.lastSeen) <= activeWindow
    }

    /// Active participants: FL-framework clients within `activeWindow`, and HTTP devices whose
    /// last heartbeat (or registration) is within `deviceWindow` (they take part under their identifier).
    /// `devicesOnly`: just the devices (a secure-aggregation round: FL-framework clients have no stage routes).
    func activeIds(now: Date = Date(), devicesOnly: Bool = false) throws -> [String] {
        let devices = try store.database.read { db in
            // A device that has registered but not heartbeated yet is as alive as its registration.
            try String.fetchAll(db, sql: "SELECT device_identifier FROM device WHERE COALESCE(last_heartbeat, created_at) >= ?",
                                arguments: [now.addingTimeInterval(-deviceWindow)])
        }
        return (devicesOnly ? [] : try all().filter { isActive($0, now: now) }.map(\.clientId)) + devices
    }

    /// Records that the participant called the API now.
    func touch(_ id: String) throws {
        try store.database.write { db in
            try db.execute(sql: "UPDATE http_client SET last_seen = ? WHERE client_id = ?", arguments: [Date(), id])
        }
    }
}
