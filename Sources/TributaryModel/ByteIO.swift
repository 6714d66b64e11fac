/// Little-endian integer reading and writing over byte buffers, with bounds checks that throw
/// instead of trapping. Every parser of untrusted bytes in this module (native model files,
/// `.npy` headers, ZIP records) goes through these, so "hostile input never crashes" reduces
/// to "every read is checked here".
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    /// What is being parsed, for error messages ("model file", "zip archive", …).
    let context: String

    init(_ bytes: UnsafeRawBufferPointer, context: String) {
        self.bytes = bytes
        self.context = context
    }

    /// Checks that `count` bytes start at `offset` (with no integer overflow).
    func require(_ offset: Int, _ count: Int, _ what: @autoclosure () -> String) throws(ModelError) {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            throw .malformed("\(context) is truncated: \(what()) needs \(count) bytes at offset \(offset) of \(bytes.count)")
        }
    }

    func u16(at offset: Int, _ what: @autoclosure () -> String) throws(ModelError) -> UInt16 {
        try require(offset, 2, what())
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(at offset: Int, _ what: @autoclosure () -> String) throws(ModelError) -> UInt32 {
        try require(offset, 4, what())
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(at offset: Int, _ what: @autoclosure () -> String) throws(ModelError) -> UInt64 {
        try require(offset, 8, what())
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A checked sub-range as a buffer (no copy).
    func slice(_ offset: Int, _ count: Int, _ what: @autoclosure () -> String) throws(ModelError) -> UnsafeRawBufferPointer {
        try require(offset, count, what())
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE(_ v: UInt16) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func appendLE(_ v: UInt32) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func appendLE(_ v: UInt64) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
}

/// Converts a 64-bit length read from a file to `Int`, refusing values that cannot be a size.
func checkedLength(_ v: UInt64, _ what: String) throws(ModelError) -> Int {
    guard v <= UInt64(ModelSpec.maxTotalBytes) else { throw .malformed("\(what) of \(v) bytes is too large") }
    return Int(v)
}

/// `Array.withUnsafeBytes` with a typed-throwing body (the standard one only `rethrows`
/// untyped errors).
func withBytes<R>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ModelError) -> R) throws(ModelError) -> R {
    let result: Result<R, ModelError> = a.withUnsafeBytes { raw in
        do throws(ModelError) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}
