import AsyncHTTPClient
import Foundation
import NIOCore

/// A multipart/form-data body whose file part is read from disk as it is sent, 1 MiB at a
/// time, so uploading a model of several GB costs the CLI a megabyte, not the file.
struct MultipartFileBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let boundary = "tributary-\(UUID().uuidString)"
    let file: URL
    private let head: ByteBuffer
    private let tail: ByteBuffer
    private let fileSize: Int

    init(file: URL, fields: [(String, String)]) throws {
        self.file = file
        fileSize = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int ?? 0
        head = ByteBuffer(string: "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.lastPathComponent)\"\r\n"
                              + "Content-Type: application/octet-stream\r\n\r\n")
        var rest = "\r\n"
        for (name, value) in fields { rest += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n" }
        tail = ByteBuffer(string: rest + "--\(boundary)--\r\n")
    }

    /// Bytes of the whole body: a known length, as the controller's upload limit checks.
    var length: Int { head.readableBytes + fileSize + tail.readableBytes }

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    var requestBody: HTTPClientRequest.Body { .stream(self, length: .known(Int64(length))) }

    func makeAsyncIterator() -> Iterator { Iterator(body: self) }

    struct Iterator: AsyncIteratorProtocol {
        private enum Stage { case head, file, tail, done }
        private let body: MultipartFileBody
        private var stage = Stage.head
        private var handle: FileHandle?
        private var sent = 0

        fileprivate init(body: MultipartFileBody) { self.body = body }

        mutating func next() async throws -> ByteBuffer? {
            switch stage {
            case .head:
                handle = try FileHandle(forReadingFrom: body.file)
                stage = .file
                return body.head
            case .file:
                if let chunk = try handle?.read(upToCount: 1 << 20), !chunk.isEmpty {
                    sent += chunk.count
                    return ByteBuffer(bytes: chunk)
                }
                try handle?.close()
                handle = nil
                // The length was announced up front: a file that changed size meanwhile must fail here, not send a wrong body.
                guard sent == body.fileSize else {
                    throw RESTClient.Failure(status: 0, message: "\(body.file.path) changed size while it was uploaded")
                }
                stage = .tail
                return body.tail
            case .tail:
                stage = .done
                return nil
            case .done:
                return nil
            }
        }
    }
}
