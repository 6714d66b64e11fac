/// A bounds-checked reader of a ZIP archive's central directory (ZIP64 aware), used to locate
/// the entries of an `.npz` before any byte of them is decompressed.
///
/// Why not just iterate `ZIPFoundation.Archive`? Its in-memory backing trusts the offsets in
/// the archive: a hostile central directory that points past the end makes it seek beyond the
/// buffer and trap, and its Linux inflate loop spins forever on a deflate stream that never
/// ends. So `.npz` input is first walked here — every offset and size is checked against the
/// buffer — and only the exact, validated compressed bytes of an entry are handed to
/// ZIPFoundation's inflater (`NPZ`). Writing still uses `ZIPFoundation.Archive`.
struct ZIPDirectory {
    struct Entry {
        var path: String
        /// 0 = stored, 8 = deflated.
        var method: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        /// Where the (possibly compressed) bytes of the entry lie in the archive.
        var dataRange: Range<Int>
    }

    static let maxEntries = ModelSpec.maxTensors
    var entries: [Entry] = []

    init(_ bytes: UnsafeRawBufferPointer) throws(ModelError) {
        let r = ByteReader(bytes, context: "zip archive")
        let eocd = try Self.findEndOfCentralDirectory(bytes)
        var count = Int(try r.u16(at: eocd + 10, "entry count"))
        var cdSize = Int(try r.u32(at: eocd + 12, "central directory size"))
        var cdOffset = Int(try r.u32(at: eocd + 16, "central directory offset"))
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // ZIP64: the locator sits just before the classic record and points at the ZIP64 record.
            let locator = eocd - 20
            guard locator >= 0, try r.u32(at: locator, "zip64 locator") == 0x0706_4b50 else {
                throw .malformed("zip archive needs a ZIP64 record but has none")
            }
            let z = try checkedLength(try r.u64(at: locator + 8, "zip64 record offset"), "zip64 record offset")
            guard try r.u32(at: z, "zip64 record") == 0x0606_4b50 else { throw .malformed("bad ZIP64 end record") }
            count = try checkedLength(try r.u64(at: z + 32, "zip64 entry count"), "zip64 entry count")
            cdSize = try checkedLength(try r.u64(at: z + 40, "zip64 directory size"), "zip64 directory size")
            cdOffset = try checkedLength(try r.u64(at: z + 48, "zip64 directory offset"), "zip64 directory offset")
        }
        guard count <= Self.maxEntries else { throw .malformed("zip archive has \(count) entries") }
        try r.require(cdOffset, cdSize, "the central directory")
        entries.reserveCapacity(count)
        var p = cdOffset
        for index in 0..<count {
            guard try r.u32(at: p, "central directory entry \(index)") == 0x0201_4b50 else {
                throw .malformed("bad central directory entry \(index)")
            }
            let flags = try r.u16(at: p + 8, "flags")
            let method = try r.u16(at: p + 10, "compression method")
            let crc = try r.u32(at: p + 16, "crc")
            var compressed = UInt64(try r.u32(at: p + 20, "compressed size"))
            var uncompressed = UInt64(try r.u32(at: p + 24, "size"))
            let nameLength = Int(try r.u16(at: p + 28, "name length"))
            let extraLength = Int(try r.u16(at: p + 30, "extra length"))
            let commentLength = Int(try r.u16(at: p + 32, "comment length"))
            var localOffset = UInt64(try r.u32(at: p + 42, "local header offset"))
            let name = try r.slice(p + 46, nameLength, "entry name")
            let extra = try r.slice(p + 46 + nameLength, extraLength, "extra field")
            try Self.applyZIP64(extra, &uncompressed, &compressed, &localOffset)
            let path = String(decoding: name, as: UTF8.self)
            guard flags & 1 == 0 else { throw .malformed("zip entry '\(path)' is encrypted") }
            guard method == 0 || method == 8 else {
                throw .malformed("zip entry '\(path)' uses compression method \(method) (only stored and deflate are supported)")
            }
            let c = try checkedLength(compressed, "entry '\(path)'")
            let u = try checkedLength(uncompressed, "entry '\(path)'")
            let lh = try checkedLength(localOffset, "local header offset of '\(path)'")
            guard try r.u32(at: lh, "local header of '\(path)'") == 0x0403_4b50 else {
                throw .malformed("bad local header for zip entry '\(path)'")
            }
            let start = lh + 30 + Int(try r.u16(at: lh + 26, "name length")) + Int(try r.u16(at: lh + 28, "extra length"))
            try r.require(start, c, "the data of zip entry '\(path)'")
            entries.append(Entry(path: path, method: method, crc32: crc, compressedSize: c, uncompressedSize: u,
                                 dataRange: start..<(start + c)))
            p += 46 + nameLength + extraLength + commentLength
        }
    }

    /// The classic end-of-central-directory record: the last `PK\5\6` within 22 + 65 535 bytes
    /// of the end (the maximum comment length).
    private static func findEndOfCentralDirectory(_ b: UnsafeRawBufferPointer) throws(ModelError) -> Int {
        guard b.count >= 22 else { throw .malformed("zip archive is truncated (\(b.count) bytes)") }
        var p = b.count - 22
        let stop = max(0, b.count - 22 - 65_535)
        while p >= stop {
            if b[p] == 0x50, b[p + 1] == 0x4b, b[p + 2] == 5, b[p + 3] == 6 { return p }
            p -= 1
        }
        throw .malformed("not a zip archive (no end of central directory record)")
    }

    /// ZIP64 extended information (tag 0x0001) holds, in this order, the 64-bit values of those
    /// of (size, compressed size, local header offset) whose 32-bit fields are `0xFFFFFFFF`.
    private static func applyZIP64(_ extra: UnsafeRawBufferPointer, _ u: inout UInt64, _ c: inout UInt64,
                                   _ offset: inout UInt64) throws(ModelError) {
        let r = ByteReader(extra, context: "zip extra field")
        var p = 0
        while p + 4 <= extra.count {
            let tag = try r.u16(at: p, "tag")
            let size = Int(try r.u16(at: p + 2, "size"))
            if tag == 1 {
                var q = p + 4
                for field in [0, 1, 2] {
                    let current = field == 0 ? u : field == 1 ? c : offset
                    guard current == 0xFFFF_FFFF else { continue }
                    guard q + 8 <= p + 4 + size else { throw .malformed("short ZIP64 extra field") }
                    let v = try r.u64(at: q, "zip64 value")
                    if field == 0 { u = v } else if field == 1 { c = v } else { offset = v }
                    q += 8
                }
                return
            }
            p += 4 + size
        }
    }
}
