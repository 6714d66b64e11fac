import Foundation
import GRDB

extension Store {
    /// A client's current attributes: the latest value of each key it reported.
    public func currentAttributes(clientId: String) throws -> [String: String] {
        try database.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT key, value FROM attribute a WHERE sender_client_id = ? AND committed_at = (
                  SELECT MAX(committed_at) FROM attribute b WHERE b.sender_client_id = a.sender_client_id AND b.key = a.key)
                """, arguments: [clientId])
            return Dictionary(rows.map { ($0["key"] as String, $0["value"] as String) }, uniquingKeysWith: { _, last in last })
        }
    }

    /// The active compute package, if one is set.
    public func activePackage() throws -> PackageRecord? {
        try database.read { db in try PackageRecord.filter(Column("active") == true).fetchOne(db) }
    }

    /// Makes `packageId` the only active package (nil: none is active). One transaction.
    public func activatePackage(_ packageId: String?) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE package SET active = 0, updated_at = ? WHERE active = 1", arguments: [Date()])
            if let packageId { try db.execute(sql: "UPDATE package SET active = 1, updated_at = ? WHERE package_id = ?", arguments: [Date(), packageId]) }
        }
    }
}
