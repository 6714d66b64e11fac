#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-buffer `pwrite`/`pread` at 64-bit offsets, retried on short transfers and EINTR:
/// the file half of spilled updates and spooled models.
public enum PositionalIO {
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(ModelError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .io("write \(path): \(errnoText())") }
            done += n
        }
    }

    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(ModelError) {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .io(n == 0 ? "\(path) is shorter than expected" : "read \(path): \(errnoText())") }
            done += n
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
