import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// Chunked uploads of large files (`/api/v1/file-upload`): `init` → `chunk` (in order, with
/// `X-Chunk-Index`) → `complete` (a `file_token`) or `abort`. Chunks go straight to a file
/// under the data directory; the row records how much of it is good, so a crash mid-chunk
/// never leaves a half-written chunk counted.
struct FileUploads: Sendable {
    let store: Store
    let directory: URL
    static let maxFileSize = 10 << 30
    static let chunkSizes = (min: 256 << 10, max: 10 << 20, default: 900 << 10)

    init(store: Store) throws {
        self.store = store
        directory = store.directory.appendingPathComponent("uploads")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func url(_ uploadId: String) -> URL { directory.appendingPathComponent("\(uploadId).part") }

    func record(_ uploadId: String) throws -> FileUploadRecord {
        guard let record = try store.fetch(FileUploadRecord.self, id: uploadId), record.status != .aborted else {
            throw APIError.notFound("Unknown upload_id")
        }
        return record
    }

    /// Appends chunk `index`; it must be the next one, and every chunk but the last must be
    /// exactly `chunk_size` bytes.
    func append(_ uploadId: String, index: Int, bytes: ByteBuffer) throws -> FileUploadRecord {
        var upload = try record(uploadId)
        guard upload.status == .open else { throw APIError.badRequest("upload \(uploadId) is already \(upload.status.rawValue)") }
        guard index == upload.nextChunk else { throw APIError.badRequest("out-of-order chunk: expected X-Chunk-Index \(upload.nextChunk), got \(index)") }
        let isLast = index == upload.totalChunks - 1
        let expected = isLast ? upload.fileSize - upload.bytesReceived : upload.chunkSize
        guard bytes.readableBytes == expected else {
            throw APIError.badRequest("chunk \(index) has \(bytes.readableBytes) bytes; expected \(expected)")
        }
        let handle = try FileHandle(forWritingTo: url(uploadId))
        defer { try? handle.close() }
        // Drop whatever a crash left beyond the last recorded chunk, then append.
        try handle.truncate(atOffset: UInt64(upload.bytesReceived))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes.readableBytesView))
        try handle.synchronize()
        upload.nextChunk += 1
        upload.bytesReceived += expected
        upload.updatedAt = Date()
        try store.save(upload)
        return upload
    }

    /// The completed file for `token`, which is then used up.
    func take(token: String) throws -> (bytes: [UInt8], name: String) {
        let found = try store.database.read { db in try FileUploadRecord.filter(Column("file_token") == token).fetchOne(db) }
        guard var upload = found, upload.status == .complete else { throw APIError.badRequest("field 'file_token': unknown or already used token") }
        let bytes = [UInt8](try Data(contentsOf: url(upload.uploadId)))
        upload.status = .consumed
        upload.updatedAt = Date()
        try store.save(upload)
        try? FileManager.default.removeItem(at: url(upload.uploadId))
        return (bytes, upload.fileName)
    }
}

struct FileUploadRoutes {
    let uploads: FileUploads

    func register<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group("/api/v1/file-upload")
        group.post("init") { request, _ in
            let body = try await request.bodyObject()
            guard let name = try body.string("file_name", required: true) else { throw APIError.badRequest("missing field 'file_name'") }
            guard let size = try body.number("file_size") else { throw APIError.badRequest("missing field 'file_size'") }
            guard size >= 1, size <= Double(FileUploads.maxFileSize), size == size.rounded() else {
                throw APIError.badRequest("field 'file_size' must be between 1 byte and \(FileUploads.maxFileSize) bytes")
            }
            let requested = try body.integer("chunk_size") ?? FileUploads.chunkSizes.default
            let chunk = min(max(requested, FileUploads.chunkSizes.min), FileUploads.chunkSizes.max)
            let upload = FileUploadRecord(fileName: name, fileSize: Int(size), chunkSize: chunk)
            guard FileManager.default.createFile(atPath: uploads.url(upload.uploadId).path, contents: nil) else {
                throw APIError(status: .internalServerError, message: "could not create the upload file")
            }
            try uploads.store.insert(upload)
            return try APIResponse.object(["upload_id": upload.uploadId, "chunk_size": upload.chunkSize, "total_chunks": upload.totalChunks])
        }
        group.post(":upload_id/chunk") { request, context in
            let id = try context.parameters.require("upload_id")
            let upload = try uploads.record(id)
            guard let text = request.header("X-Chunk-Index"), let index = Int(text), index >= 0 else {
                throw APIError.badRequest("header X-Chunk-Index (a zero-based chunk number) is required")
            }
            let bytes: ByteBuffer
            do {
                bytes = try await request.body.collect(upTo: upload.chunkSize)
            } catch let error as HTTPResponseError where error.status == .contentTooLarge {
                // Too big is a wrong-sized chunk like too small: the same 400, not a 413 (or a 500).
                throw APIError.badRequest("chunk \(index) has more than chunk_size (\(upload.chunkSize)) bytes")
            }
            let updated = try uploads.append(id, index: index, bytes: bytes)
            return try APIResponse.object(["chunk_index": index, "bytes_received": updated.bytesReceived])
        }
        group.post(":upload_id/complete") { _, context in
            var upload = try uploads.record(try context.parameters.require("upload_id"))
            if upload.status == .open {
                guard upload.nextChunk == upload.totalChunks, upload.bytesReceived == upload.fileSize else {
                    throw APIError.badRequest("not all chunks have been received: \(upload.nextChunk) of \(upload.totalChunks)")
                }
                upload.status = .complete
                upload.fileToken = Store.newId()
                upload.updatedAt = Date()
                try uploads.store.save(upload)
            }
            guard upload.status == .complete, let token = upload.fileToken else { throw APIError.badRequest("upload \(upload.uploadId) was already used") }
            return try APIResponse.object(["file_token": token, "file_name": upload.fileName, "file_size": upload.fileSize])
        }
        group.post(":upload_id/abort") { _, context in
            var upload = try uploads.record(try context.parameters.require("upload_id"))
            upload.status = .aborted
            upload.updatedAt = Date()
            try uploads.store.save(upload)
            try? FileManager.default.removeItem(at: uploads.url(upload.uploadId))
            return APIResponse.message("Upload aborted")
        }
    }
}
