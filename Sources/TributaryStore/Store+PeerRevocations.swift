import Foundation
import GRDB

extension Store {
    /// Records that the peer `name` in `role` (combiner or client) was removed now.
    public func revokePeer(role: String, name: String, at: Date = Date()) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO peer_revocation (role, name, revoked_at) VALUES (?, ?, ?)", arguments: [role, name, at])
        }
    }

    /// Every revocation of `role`: name → when.
    public func peerRevocations(role: String) throws -> [String: Date] {
        try database.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT name, revoked_at FROM peer_revocation WHERE role = ?", arguments: [role])
            return Dictionary(rows.map { ($0["name"] as String, $0["revoked_at"] as Date) }, uniquingKeysWith: { _, last in last })
        }
    }
}
