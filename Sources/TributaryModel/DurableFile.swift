#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Whole-file reads and crash-safe whole-file writes.
///
/// A durable write must leave either the old file or the complete new one at `url`, even if
/// the process or machine dies part-way. The sequence is the classic one:
///
/// 1. write everything to a temporary file *in the same directory* (so `rename` is atomic:
///    same file system),
/// 2. `fsync` the temporary file (its data reaches the disk before its name does),
/// 3. `rename` it over the target (atomic replace),
/// 4. `fsync` the directory (the rename itself is persisted).
///
/// On any failure the temporary file is removed and the target is untouched.
enum DurableFile {
    /// Writes the concatenation of `parts` to `url` durably.
    static func write(_ parts: [UnsafeRawBufferPointer], to url: URL) throws(ModelError) {
        let path = url.path
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot create \(tmp): \(errnoText())") }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do throws(ModelError) {
            for part in parts { try writeAll(fd, part, tmp) }
            guard fsync(fd) == 0 else { throw .io("fsync \(tmp): \(errnoText())") }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw .io("close \(tmp): \(errnoText())") }
        guard rename(tmp, path) == 0 else { throw .io("rename \(tmp) -> \(path): \(errnoText())") }
        ok = true
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw .io("open directory \(dir): \(errnoText())") }
        defer { close(dfd) }
        guard fsync(dfd) == 0 else { throw .io("fsync directory \(dir): \(errnoText())") }
    }

    static func write(_ bytes: [UInt8], to url: URL) throws(ModelError) {
        try withBytes(bytes) { (raw) throws(ModelError) in try write([raw], to: url) }
    }

    private static func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer, _ path: String) throws(ModelError) {
        var done = 0
        while done < buf.count {
            let n = posixWrite(fd, buf.baseAddress! + done, buf.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .io("write \(path): \(errnoText())") }
            done += n
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

// `write` is shadowed inside `DurableFile` by its own static methods.
@inline(__always) private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
