#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Client updates for a robust rule kept on disk, one file per update in the flat layout of
/// `spec`, under a directory of their own that goes away with this object.
///
/// A robust rule needs all n updates at once; held in memory that is n × model at the
/// controller (100 clients of a 100 MB model: 10 GB). Spilled, the controller holds one
/// staged upload while it arrives and the rule reads a block of coordinates of every update
/// at a time (`UpdateSet`, `pread` at 64-bit offsets), so memory is O(model + n × block) and
/// the disk holds n × model. The files are scratch: written without fsync (a controller that
/// dies mid-round fails the round anyway) and removed when the round's aggregate is built.
///
/// Not thread-safe while being filled (one actor appends); read-only afterwards.
public final class SpilledUpdates: UpdateSet, @unchecked Sendable {
    public let spec: ModelSpec
    public let directory: URL
    private let offsets: [Int]
    private let blockLimit: Int?
    private var paths: [String] = []

    /// Creates `directory` (its parents too). `blockElements` overrides the sweep's block size
    /// (tests use tiny blocks so every rule crosses many of them).
    public init(spec: ModelSpec, directory: URL, blockElements: Int? = nil) throws(ModelError) {
        try requireFloat(spec)
        self.spec = spec
        self.directory = directory
        self.offsets = spec.offsets
        self.blockLimit = blockElements
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create spill directory \(directory.path): \(error)")
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    public var count: Int { paths.count }

    public var blockElements: Int { blockLimit ?? max(1_024, (32 << 20) / (8 * max(count, 1))) }

    /// Writes one checked update (flat bytes of `spec`); returns its index.
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) throws(ModelError) -> Int {
        guard bytes.count == spec.totalBytes else { throw .sizeMismatch(expected: spec.totalBytes, actual: bytes.count) }
        let path = directory.appendingPathComponent("update-\(paths.count).bin").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path): \(PositionalIO.errnoText())") }
        defer { close(fd) }
        try PositionalIO.write(fd, bytes, at: 0, path: path)
        paths.append(path)
        return paths.count - 1
    }

    public func columns(tensor: Int, range: Range<Int>) throws(StrategyError) -> [[Double]] {
        let t = spec.tensors[tensor]
        let start = offsets[tensor] + range.lowerBound * t.dtype.size, length = range.count * t.dtype.size
        var buffer = [UInt8](repeating: 0, count: length)
        var result: [[Double]] = []
        result.reserveCapacity(paths.count)
        for k in paths.indices {
            try readInto(&buffer, k, at: start)
            result.append(buffer.withUnsafeBytes { widen($0, from: 0, count: range.count, t.dtype) })
        }
        return result
    }

    public func update(_ k: Int) throws(StrategyError) -> Model {
        var data = [UInt8](repeating: 0, count: spec.totalBytes)
        try readInto(&data, k, at: 0)
        do throws(ModelError) { return try Model(spec: spec, data: data) } catch { throw .model(error) }
    }

    private func readInto(_ bytes: inout [UInt8], _ k: Int, at offset: Int) throws(StrategyError) {
        let result: Result<Void, StrategyError> = bytes.withUnsafeMutableBytes { raw in
            do throws(StrategyError) { try read(k, at: offset, into: raw); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Reads `into.count` bytes of update k from byte `offset`.
    private func read(_ k: Int, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StrategyError) {
        guard !buffer.isEmpty else { return }
        let fd = open(paths[k], O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .model(.io("cannot open \(paths[k]): \(PositionalIO.errnoText())")) }
        defer { close(fd) }
        do throws(ModelError) { try PositionalIO.read(fd, into: buffer, at: offset, path: paths[k]) } catch { throw .model(error) }
    }
}
