import Foundation
import GRDB
import TributaryModel

/// The controller's durable state: one SQLite file (WAL) under the data directory, with
/// model blobs beside it as files named by id. Every write goes through GRDB.
public final class Store: Sendable {
    public let directory: URL
    public let database: DatabasePool
    public let models: ModelFileStore
    /// Device uploads kept for later (stored updates, personalized weights), as model files.
    public let updates: ModelFileStore

    /// Opens (or creates) the store in `directory` and migrates the schema.
    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(5)
        // DatabasePool uses WAL; synchronous=FULL makes each commit durable on return.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        database = try DatabasePool(path: directory.appendingPathComponent("tributary.sqlite").path, configuration: config)
        try Self.migrator.migrate(database)
        models = try ModelFileStore(directory: directory.appendingPathComponent("models"))
        updates = try ModelFileStore(directory: directory.appendingPathComponent("updates"))
    }

    /// Creates or updates a row.
    public func save<R: PersistableRecord & Sendable>(_ record: R) throws {
        try database.write { db in try record.save(db) }
    }

    /// Inserts a new row; a constraint violation (duplicate key or unique value) throws.
    public func insert<R: PersistableRecord & Sendable>(_ record: R) throws {
        try database.write { db in try record.insert(db) }
    }

    /// Fetches a row by primary key.
    public func fetch<R: FetchableRecord & TableRecord & Sendable>(_ type: R.Type, id: String) throws -> R? {
        try database.read { db in try R.fetchOne(db, key: id) }
    }

    /// Fetches rows with a plain filter (used by the services, not the REST facade).
    public func fetchAll<R: FetchableRecord & TableRecord & Sendable>(_ type: R.Type, where column: String, equals value: String) throws -> [R] {
        try database.read { db in try R.filter(Column(column) == value).fetchAll(db) }
    }

    /// Stores a model: file first (written, fsynced, checksummed), then its row, so a row
    /// never points at a file that is not fully on disk.
    @discardableResult
    public func storeModel(_ model: Model, id: String = Store.newId(), parent: String?, sessionId: String?, roundNumber: Int?, name: String?,
                           helper: String? = nil) throws -> ModelRecord {
        try models.write(model, id: id)
        let record = ModelRecord(modelId: id, model: model, parent: parent, sessionId: sessionId, roundNumber: roundNumber, name: name, helper: helper)
        try save(record)
        return record
    }

    /// Loads a stored model and checks it against its row's checksum.
    public func loadModel(id: String) throws -> Model {
        guard let record = try fetch(ModelRecord.self, id: id) else { throw StoreError.notFound("model \(id)") }
        let model = try models.read(id: id)
        guard String(model.checksum, radix: 16) == record.checksum else {
            throw StoreError.corrupt("model file \(id) does not match its recorded checksum")
        }
        return model
    }

    /// The newest stored model's id (the default seed and inference model), or nil when none is stored.
    public func latestModelId() throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT model_id FROM model ORDER BY committed_at DESC LIMIT 1") }
    }

    /// A fresh id: a lowercase uuid4 string, as FEDn's ids are.
    public static func newId() -> String {
        UUID().uuidString.lowercased()
    }
}

public enum StoreError: Error, Sendable, CustomStringConvertible {
    case notFound(String)
    case corrupt(String)
    case invalidQuery(String)

    public var description: String {
        switch self {
        case .notFound(let s): "\(s) not found"
        case .corrupt(let s): s
        case .invalidQuery(let s): s
        }
    }
}

extension Store {
    /// Deletes the models of a session's round that no round row points at — what a crash
    /// between storing a round's model and recording it leaves behind — so a re-run round
    /// does not leave two models for one round.
    public func deleteOrphanModels(sessionId: String, roundNumber: Int) throws {
        let orphans: [String] = try database.write { db in
            let ids = try String.fetchAll(db, sql: """
                SELECT model_id FROM model WHERE session_id = ? AND round_number = ?
                AND model_id NOT IN (SELECT model_out FROM round WHERE model_out IS NOT NULL)
                AND model_id NOT IN (SELECT model_in FROM round)
                """, arguments: [sessionId, roundNumber])
            for id in ids { try db.execute(sql: "DELETE FROM model WHERE model_id = ?", arguments: [id]) }
            return ids
        }
        for id in orphans { try? FileManager.default.removeItem(at: models.url(id: id)) }
    }
}
