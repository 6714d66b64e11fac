import Foundation
import GRDB

/// One start (or continuation) of a session (FEDn's `/runs`): which model it started from,
/// how many rounds it was asked for, and where it ended.
public struct RunRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "run"
    public static let columns = ["run_id", "session_id", "status", "model_id", "completed_at_model_id", "rounds", "round_timeout",
                                 "completed_at", "committed_at", "updated_at"]

    public var runId: String
    public var sessionId: String
    /// `Started`, then the session's status when the run ended (`Finished`, `Terminated`, `Failed`).
    public var status: String
    public var modelId: String
    public var completedAtModelId: String?
    public var rounds: Int
    public var roundTimeout: Double
    /// Clients the run was limited to (`client_ids` of the start request), comma-separated.
    public var clientIds: String?
    public var modelNamePrefix: String?
    public var completedAt: Date?
    public var committedAt: Date
    public var updatedAt: Date

    public init(sessionId: String, modelId: String, rounds: Int, roundTimeout: Double, clientIds: [String]?, modelNamePrefix: String?, now: Date = Date()) {
        runId = Store.newId()
        self.sessionId = sessionId
        status = "Started"
        self.modelId = modelId
        self.rounds = rounds
        self.roundTimeout = roundTimeout
        self.clientIds = clientIds.map { $0.joined(separator: ",") }
        self.modelNamePrefix = modelNamePrefix
        committedAt = now
        updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case runId = "run_id", sessionId = "session_id", status, modelId = "model_id", completedAtModelId = "completed_at_model_id"
        case rounds, roundTimeout = "round_timeout", clientIds = "client_ids", modelNamePrefix = "model_name_prefix"
        case completedAt = "completed_at", committedAt = "committed_at", updatedAt = "updated_at"
    }
}

/// A compute package (FEDn's `/packages`): an archive clients may fetch, stored as a file
/// under the data directory; at most one is active.
public struct PackageRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "package"
    public static let columns = ["package_id", "name", "description", "helper", "file_name", "storage_file_name", "checksum", "active",
                                 "committed_at", "updated_at"]

    public var packageId: String
    public var name: String
    public var description: String
    public var helper: String
    public var fileName: String
    public var storageFileName: String
    /// SHA-256 of the file, hex.
    public var checksum: String
    public var sizeBytes: Int
    public var active: Bool
    public var committedAt: Date
    public var updatedAt: Date

    public init(name: String, description: String, helper: String, fileName: String, storageFileName: String, checksum: String, sizeBytes: Int, now: Date = Date()) {
        packageId = Store.newId()
        self.name = name
        self.description = description
        self.helper = helper
        self.fileName = fileName
        self.storageFileName = storageFileName
        self.checksum = checksum
        self.sizeBytes = sizeBytes
        active = false
        committedAt = now
        updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case packageId = "package_id", name, description, helper, fileName = "file_name", storageFileName = "storage_file_name"
        case checksum, sizeBytes = "size_bytes", active, committedAt = "committed_at", updatedAt = "updated_at"
    }
}

/// A chunked upload (`/api/v1/file-upload`): chunks are appended in order to a file under
/// the data directory; once complete it has a `file_token` other routes accept in place of
/// a multipart file.
public struct FileUploadRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "file_upload"

    public enum Status: String, Codable, Sendable { case open, complete, aborted, consumed }

    public var uploadId: String
    public var fileName: String
    public var fileSize: Int
    public var chunkSize: Int
    public var totalChunks: Int
    /// Index of the next chunk expected (chunks arrive in order).
    public var nextChunk: Int
    public var bytesReceived: Int
    public var status: Status
    public var fileToken: String?
    public var committedAt: Date
    public var updatedAt: Date

    public init(fileName: String, fileSize: Int, chunkSize: Int, now: Date = Date()) {
        uploadId = Store.newId()
        self.fileName = fileName
        self.fileSize = fileSize
        self.chunkSize = chunkSize
        totalChunks = max(1, (fileSize + chunkSize - 1) / chunkSize)
        nextChunk = 0
        bytesReceived = 0
        status = .open
        committedAt = now
        updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case uploadId = "upload_id", fileName = "file_name", fileSize = "file_size", chunkSize = "chunk_size", totalChunks = "total_chunks"
        case nextChunk = "next_chunk", bytesReceived = "bytes_received", status, fileToken = "file_token"
        case committedAt = "committed_at", updatedAt = "updated_at"
    }
}
