import Foundation
import TributaryModel

/// Model blobs as files `<id>.trbm` (the native format) in one directory.
public struct ModelFileStore: Sendable {
    public let directory: URL

    init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func url(id: String) -> URL {
        directory.appendingPathComponent("\(id).trbm")
    }

    /// Writes durably (temp file, fsync, rename, fsync directory — see `NativeFormat.write`).
    public func write(_ model: Model, id: String) throws {
        try NativeFormat.write(model, to: url(id: id))
    }

    public func read(id: String) throws -> Model {
        try NativeFormat.read(from: url(id: id))
    }
}
