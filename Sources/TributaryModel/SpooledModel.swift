#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A model kept in a file instead of the process's memory, read back a range at a time.
///
/// A combiner serves the round's model to its clients chunk by chunk while it folds their
/// updates; held in memory, the served model is one of the three model-sized buffers of its
/// peak (served model, running sum, one staged update). Spooled, the bytes live in the
/// kernel's page cache — shared, reclaimable, not the process's RSS — and each chunk reply is
/// one `pread` straight into its nng message, the same single copy a `memcpy` from memory was.
/// The file is unlinked as soon as it is written: it vanishes with this object, or with the
/// process if that dies.
public final class SpooledModel: Sendable {
    public let spec: ModelSpec
    public let path: String
    private let fd: Int32

    public init(_ model: borrowing Model, directory: URL) throws(ModelError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create \(directory.path): \(error)")
        }
        let path = directory.appendingPathComponent("spooled-\(UUID().uuidString).bin").path
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path): \(PositionalIO.errnoText())") }
        unlink(path)
        do throws(ModelError) {
            let data = model.data
            try withBytes(data) { (raw) throws(ModelError) in try PositionalIO.write(fd, raw, at: 0, path: path) }
        } catch {
            close(fd)
            throw error
        }
        (self.spec, self.path, self.fd) = (model.spec, path, fd)
    }

    deinit { close(fd) }

    /// Copies the model's flat bytes `range` into `buffer` (of `range.count` bytes).
    public func read(_ range: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) throws(ModelError) {
        guard range.lowerBound >= 0, range.upperBound <= spec.totalBytes, buffer.count == range.count else {
            throw .sizeMismatch(expected: range.count, actual: buffer.count)
        }
        try PositionalIO.read(fd, into: buffer, at: range.lowerBound, path: path)
    }
}
