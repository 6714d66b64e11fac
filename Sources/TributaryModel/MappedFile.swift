#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A regular file mapped read-only into memory, so a reader sees it as one buffer without
/// reading it into a second one: a 2.4 GB model file costs the model's own array (the decoded
/// copy), not that plus the file, and an archive is read only where its directory points
/// (holes and skipped members are never touched). Offsets are 64-bit throughout.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private let mapped: UnsafeMutableRawPointer?

    init(url: URL, limit: Int = ModelSpec.maxTotalBytes + (64 << 20)) throws(ModelError) {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io("stat \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io("\(path) is not a regular file") }
        let size = Int(st.st_size)
        guard size <= limit else { throw .io("\(path) is \(size) bytes, over the \(limit)-byte limit") }
        guard size > 0 else {
            mapped = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .io("mmap \(path): \(String(cString: strerror(errno)))")
        }
        // Read front to back by decoders: let the kernel read ahead.
        _ = madvise(p, size, MADV_SEQUENTIAL)
        mapped = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let mapped { munmap(mapped, bytes.count) }
    }
}
