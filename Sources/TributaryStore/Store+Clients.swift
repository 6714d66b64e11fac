import Foundation
import GRDB

extension Store {
    /// Clients currently assigned to each combiner (not offline), for least-loaded placement;
    /// `excluding` leaves out the client being placed, so re-adding it does not count itself.
    public func assignedClientCounts(excluding clientId: String? = nil) throws -> [String: Int] {
        try database.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT combiner, COUNT(*) AS n FROM client WHERE status != 'offline' AND client_id IS NOT ? GROUP BY combiner",
                arguments: [clientId])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["combiner"] as String, $0["n"] as Int) })
        }
    }

    /// Applies a combiner's report of its clients: those listed online are online at that
    /// combiner (a row is created for a client that joined without the REST API), those listed
    /// stale are stale, and its other clients that were online or stale go offline. One
    /// transaction.
    public func updateClientStatuses(combiner: String, online: Set<String>, stale: Set<String> = []) throws {
        let now = Date()
        try database.write { db in
            var seen = Set<String>()
            let rows = try ClientRecord.filter(Column("combiner") == combiner || online.contains(Column("client_id"))).fetchAll(db)
            // (stale clients are this combiner's own, so the first condition finds them)
            for var client in rows {
                seen.insert(client.clientId)
                let isOnline = online.contains(client.clientId)
                if isOnline {
                    guard client.status != .online || client.combiner != combiner else { continue }
                    client.status = .online
                    client.combiner = combiner
                    client.lastSeen = now
                } else if stale.contains(client.clientId), client.combiner == combiner {
                    guard client.status != .stale else { continue }
                    client.status = .stale
                } else {
                    guard client.combiner == combiner, client.status == .online || client.status == .stale else { continue }
                    client.status = .offline
                }
                client.updatedAt = now
                try client.save(db)
            }
            for id in online.subtracting(seen) {
                var client = ClientRecord(clientId: id, name: id, combiner: combiner, combinerPreferred: nil, ip: nil, package: nil, now: now)
                client.status = .online
                try client.insert(db)
            }
        }
    }
}
