#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import MultipartKit

/// A model upload received straight into a file: the `file` part of a `multipart/form-data`
/// body (FEDn's APIClient), or a raw body, is written to `directory` as it arrives, so a
/// 2.4 GB model never sits in memory as a request buffer (NIO's `ByteBuffer` would also cap
/// it at 4 GiB) and is decoded from the file by `ModelFile.read`. Text fields stay in memory
/// (at most 1 MiB in all). The file is removed if the body is malformed or too large.
struct StreamedUpload {
    let file: URL
    var fields: [String: String] = [:]
    var filename: String?

    static let maxFieldBytes = 1 << 20

    static func receive(_ body: RequestBody, contentType: String, into directory: URL, limit: Int) async throws -> StreamedUpload {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("upload-\(UUID().uuidString)")
        let sink = try FileSink(path: url.path)
        var upload = StreamedUpload(file: url)
        do {
            try await upload.read(body, contentType: contentType, into: sink, limit: limit)
            try sink.finish()
            return upload
        } catch {
            try? sink.finish()
            try? FileManager.default.removeItem(at: url)
            throw error
        }
    }

    private mutating func read(_ body: RequestBody, contentType: String, into sink: FileSink, limit: Int) async throws {
        var total = 0
        guard contentType.lowercased().hasPrefix("multipart/form-data") else {
            for try await buffer in body {
                total += buffer.readableBytes
                guard total <= limit else { throw APIError.badRequest("upload exceeds \(limit) bytes") }
                try sink.write(buffer)
            }
            guard total > 0 else { throw APIError.badRequest("missing field 'file'") }
            return
        }
        guard let boundary = MultipartForm.parameter("boundary", of: contentType) else { throw APIError.badRequest("multipart body without a boundary") }
        let parser = MultipartParser(boundary: boundary)
        var name: String?, partFilename: String?, text: [UInt8] = [], fieldBytes = 0, sawFile = false
        var collected: [String: String] = [:], fileName: String?
        var failure: (any Error)?
        parser.onHeader = { field, value in
            guard field.lowercased() == "content-disposition" else { return }
            name = MultipartForm.parameter("name", of: value)
            partFilename = MultipartForm.parameter("filename", of: value)
        }
        parser.onBody = { chunk in
            guard failure == nil else { return }
            if name == "file" {
                sawFile = true
                do { try sink.write(chunk) } catch { failure = error }
            } else {
                fieldBytes += chunk.readableBytes
                if fieldBytes > Self.maxFieldBytes { failure = APIError.badRequest("form fields exceed \(Self.maxFieldBytes) bytes") }
                text.append(contentsOf: chunk.readableBytesView)
            }
        }
        parser.onPartComplete = {
            if name == "file" { fileName = partFilename } else if let key = name { collected[key] = String(decoding: text, as: UTF8.self) }
            (name, partFilename, text) = (nil, nil, [])
        }
        for try await buffer in body {
            total += buffer.readableBytes
            guard total <= limit else { throw APIError.badRequest("upload exceeds \(limit) bytes") }
            do { try parser.execute(buffer) } catch { throw APIError.badRequest("malformed multipart body") }
            if let failure { throw failure }
        }
        guard sawFile else { throw APIError.badRequest("missing field 'file'") }
        (fields, filename) = (collected, fileName)
    }
}

/// Appends to a new file with plain `write(2)` calls (no buffering of our own).
private final class FileSink {
    private var fd: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw APIError(status: .internalServerError, message: "cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw APIError(status: .internalServerError, message: "write \(path): \(String(cString: strerror(errno)))") }
                done += n
            }
        }
    }

    func finish() throws {
        guard fd >= 0 else { return }
        defer { fd = -1 }
        guard close(fd) == 0 else { throw APIError(status: .internalServerError, message: "close \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { close(fd) } }
}
