import Foundation
import GRDB

extension Store {
    /// A network-wide setting (e.g. `active_helper`), or nil when never set.
    public func setting(_ key: String) throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]) }
    }

    /// How models are exchanged with users when nothing else says: FEDn's `active_helper`,
    /// `numpyhelper` (NumPy .npz) unless set otherwise, as in FEDn.
    public func activeHelper() throws -> String {
        try setting("active_helper") ?? "numpyhelper"
    }

    public func setSetting(_ key: String, _ value: String) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [key, value])
        }
    }

    /// Deletes a row by primary key; false when there was none.
    @discardableResult
    public func delete<R: TableRecord & Sendable>(_ type: R.Type, id: String) throws -> Bool {
        try database.write { db in try R.deleteOne(db, key: id) }
    }
}
