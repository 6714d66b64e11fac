import Foundation
import ZIPFoundation

/// NumPy `.npz` archives: a ZIP of `<name>.npy` arrays, as written by `np.savez` (stored) and
/// `np.savez_compressed` (deflated) and read by `np.load`.
///
/// Mapping to `Model`: one entry per tensor, in model order, named `<tensor name>.npy`
/// (`np.savez(f, **d)` uses the dict keys as names; positional arrays become `arr_0`, `arr_1`, …).
/// Reading keeps the archive's central-directory order, which is the order `np.savez` wrote.
/// Supported: `.npy` versions 1.0/2.0/3.0, dtypes `<f4 <f8 <i4 <i8 |u1`, C order, any rank
/// including 0-d scalars (shape `()`).
///
/// Reading treats the archive as hostile: the central directory is walked with bounds checks
/// (`ZIPDirectory`), every entry's CRC-32 is checked, inflation is capped at the declared size
/// (and the declared size at deflate's maximum ratio), and every failure is a `ModelError`.
public enum NPZ {
    /// Deflate cannot expand by more than about 1032:1, so a larger declared size is a lie (or a bomb).
    static let maxDeflateRatio = 1_040

    /// Encodes as `np.savez` would (stored entries), or as `np.savez_compressed` when `compressed`.
    public static func encode(_ m: Model, compressed: Bool = false) throws -> [UInt8] {
        let archive: Archive
        do {
            archive = try Archive(data: Data(), accessMode: .create)
        } catch {
            throw ModelError.io("cannot create zip archive: \(error)")
        }
        // A fixed timestamp keeps the output a pure function of the model.
        let date = Date(timeIntervalSince1970: 1_577_836_800)  // 2020-01-01
        for (t, offset) in zip(m.spec.tensors, m.spec.offsets) {
            var entry = NPY.header(dtype: t.dtype, shape: t.shape)
            entry += m.data[offset..<(offset + t.byteCount)]
            do {
                try archive.addEntry(with: t.name + ".npy", type: .file, uncompressedSize: Int64(entry.count),
                                     modificationDate: date, compressionMethod: compressed ? .deflate : .none,
                                     bufferSize: 1 << 20) { position, size in
                    let start = Int(position)
                    return Data(entry[start..<min(start + size, entry.count)])
                }
            } catch {
                throw ModelError.io("cannot add '\(t.name)' to zip archive: \(error)")
            }
        }
        guard let data = archive.data else { throw ModelError.io("zip archive produced no data") }
        return [UInt8](data)
    }

    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> Model {
        try withBytes(bytes) { (raw) throws(ModelError) in try decode(raw) }
    }

    public static func decode(_ raw: UnsafeRawBufferPointer) throws(ModelError) -> Model {
        let directory = try ZIPDirectory(raw)
        var tensors: [TensorSpec] = []
        var data: [UInt8] = []
        for entry in directory.entries where !entry.path.hasSuffix("/") {
            guard entry.path.hasSuffix(".npy") else {
                throw .malformed("npz entry '\(entry.path)' is not a .npy array")
            }
            let name = String(entry.path.dropLast(4))
            let body = UnsafeRawBufferPointer(rebasing: raw[entry.dataRange])
            if entry.method == 0 {
                guard entry.compressedSize == entry.uncompressedSize else {
                    throw .malformed("stored npz entry '\(entry.path)' has different compressed and plain sizes")
                }
                try checkCRC(body, entry)
                try appendArray(body, name: name, to: &tensors, &data)
            } else {
                let plain = try inflate(body, entry)
                try withBytes(plain) { (p) throws(ModelError) in
                    try checkCRC(p, entry)
                    try appendArray(p, name: name, to: &tensors, &data)
                }
            }
        }
        return try Model(spec: ModelSpec(tensors: tensors), data: data)
    }

    /// A model of one tensor, `name`, from a single NumPy `.npy` file.
    public static func decodeArray(_ npy: [UInt8], name: String) throws(ModelError) -> Model {
        var tensors: [TensorSpec] = [], data: [UInt8] = []
        try withBytes(npy) { (raw) throws(ModelError) in try appendArray(raw, name: name, to: &tensors, &data) }
        return try Model(spec: ModelSpec(tensors: tensors), data: data)
    }

    /// The single `.npy` file of a one-tensor model (what `np.save` writes).
    public static func encodeArray(_ m: Model) throws(ModelError) -> [UInt8] {
        guard m.spec.tensors.count == 1, let t = m.spec.tensors.first else { throw .invalidSpec("a .npy file holds one array; the model has \(m.spec.tensors.count)") }
        return NPY.header(dtype: t.dtype, shape: t.shape) + m.data
    }

    public static func write(_ m: Model, to url: URL, compressed: Bool = false) throws {
        try DurableFile.write(try encode(m, compressed: compressed), to: url)
    }

    /// Reads a `.npz` file mapped (`MappedFile`): only its directory and members are touched.
    public static func read(from url: URL) throws -> Model {
        let file = try MappedFile(url: url)
        return try decode(file.bytes)
    }

    /// Parses one `.npy` and appends its tensor spec and raw bytes.
    private static func appendArray(_ npy: UnsafeRawBufferPointer, name: String,
                                    to tensors: inout [TensorSpec], _ data: inout [UInt8]) throws(ModelError) {
        let (header, dataOffset) = try NPY.parseHeader(npy, name: name)
        let tensor = TensorSpec(name: name, dtype: header.dtype, shape: header.shape)
        try ModelSpec(tensors: [tensor]).validate()  // name, rank and overflow checks before using byteCount
        guard npy.count - dataOffset == tensor.byteCount else {
            throw .malformed("array '\(name)' of shape \(header.shape) needs \(tensor.byteCount) data bytes, has \(npy.count - dataOffset)")
        }
        let (total, overflow) = data.count.addingReportingOverflow(tensor.byteCount)
        guard !overflow, total <= ModelSpec.maxTotalBytes else { throw .invalidSpec("model is too large") }
        tensors.append(tensor)
        data.append(contentsOf: npy[dataOffset...])
    }

    /// CRC-32 (ZIPFoundation's), fed in slices so no single call sees more than 64 MiB.
    private static func checkCRC(_ bytes: UnsafeRawBufferPointer, _ entry: ZIPDirectory.Entry) throws(ModelError) {
        var crc: CRC32 = 0
        var start = 0
        repeat {
            let end = min(start + (64 << 20), bytes.count)
            let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            if let base = piece.baseAddress {
                let view = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: piece.count, deallocator: .none)
                crc = view.crc32(checksum: crc)
            }
            start = end
        } while start < bytes.count
        guard crc == entry.crc32 else { throw .malformed("npz entry '\(entry.path)' fails its CRC-32 check") }
    }

    /// Inflates a raw-deflate entry with ZIPFoundation's inflater, fed only this entry's bytes.
    ///
    /// The provider always returns exactly the requested number of bytes (zero-padded past the
    /// end), because the Linux inflater sets `avail_in` to its buffer size regardless of what it
    /// got; and it throws once the entry's bytes are used up, because that inflater would
    /// otherwise loop forever on a stream that never ends. Output beyond the declared size aborts.
    private static func inflate(_ body: UnsafeRawBufferPointer, _ entry: ZIPDirectory.Entry) throws(ModelError) -> [UInt8] {
        let (cap, overflow) = entry.compressedSize.multipliedReportingOverflow(by: maxDeflateRatio)
        guard !overflow, entry.uncompressedSize <= cap + 1024 else {
            throw .malformed("npz entry '\(entry.path)' claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed")
        }
        var out: [UInt8] = []
        out.reserveCapacity(entry.uncompressedSize)
        let declared = entry.uncompressedSize
        do {
            _ = try Data.decompress(size: Int64(body.count), bufferSize: 1 << 16, skipCRC32: true, provider: { position, size in
                let start = Int(position)
                guard start < body.count, size > 0 else { throw InflateError.streamDoesNotEnd }
                var chunk = Data(count: size)
                let n = min(size, body.count - start)
                chunk.withUnsafeMutableBytes { dst in
                    dst.baseAddress!.copyMemory(from: body.baseAddress! + start, byteCount: n)
                }
                return chunk
            }, consumer: { piece in
                guard piece.count <= declared - out.count else { throw InflateError.tooLong }
                out.append(contentsOf: piece)
            })
        } catch InflateError.tooLong {
            throw .malformed("npz entry '\(entry.path)' inflates to more than its declared \(declared) bytes")
        } catch InflateError.streamDoesNotEnd {
            throw .malformed("npz entry '\(entry.path)' has a truncated deflate stream")
        } catch {
            throw .malformed("npz entry '\(entry.path)' has corrupt deflate data (\(error))")
        }
        guard out.count == declared else {
            throw .malformed("npz entry '\(entry.path)' inflates to \(out.count) bytes, not the declared \(declared)")
        }
        return out
    }

    private enum InflateError: Error { case tooLong, streamDoesNotEnd }
}
