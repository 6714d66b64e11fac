import Foundation

/// Tributary's native model format, used for files on disk and model bytes on the wire.
///
/// Layout (all integers little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `"TRBMODL1"` |
/// | 8 | 4 | `J`: length of the spec JSON in bytes (≤ 16 MiB) |
/// | 12 | 4 | flags, must be 0 (reserved) |
/// | 16 | 8 | `D`: length of the flat data in bytes (= `spec.totalBytes`) |
/// | 24 | 8 | XXH3-64 of the flat data |
/// | 32 | J | `ModelSpec` as JSON (sorted keys, so equal specs give equal bytes) |
/// | 32+J | P | zero padding, `P = (64 − (32+J) mod 64) mod 64` |
/// | H = 32+J+P | D | flat tensor data (see `ModelSpec`) |
///
/// The total length is exactly `H + D`. The data starts 64-byte aligned within the file, so a
/// reader that maps the file (or a page-aligned buffer) gets aligned tensors. The checksum
/// covers the data only; the JSON is validated structurally (`ModelSpec.validate`) and its
/// length must agree with `D`, so a corrupt header cannot pass unnoticed either.
///
/// `decode` treats its input as hostile: every length is bounds-checked before use and every
/// failure is a `ModelError`, never a trap.
public enum NativeFormat {
    public static let magic: [UInt8] = Array("TRBMODL1".utf8)
    /// Size of the fixed header before the JSON.
    public static let fixedHeaderSize = 32
    /// Data starts at a multiple of this.
    public static let alignment = 64
    /// Largest accepted spec JSON.
    public static let maxSpecJSONBytes = 16 << 20

    /// The spec as canonical JSON (sorted keys).
    static func specJSON(_ spec: ModelSpec) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings, enums and integers cannot fail.
        return Array((try? encoder.encode(spec)) ?? Data("{\"tensors\":[]}".utf8))
    }

    /// The header (fixed part, JSON and padding): everything before the data.
    static func header(for m: Model) -> [UInt8] {
        let json = specJSON(m.spec)
        var out: [UInt8] = []
        let headerSize = dataOffset(jsonLength: json.count)
        out.reserveCapacity(headerSize)
        out += magic
        out.appendLE(UInt32(json.count))
        out.appendLE(UInt32(0))
        out.appendLE(UInt64(m.data.count))
        out.appendLE(m.checksum)
        out += json
        out += [UInt8](repeating: 0, count: headerSize - out.count)
        return out
    }

    /// `H = ⌈(32 + J) / 64⌉ · 64`.
    static func dataOffset(jsonLength: Int) -> Int {
        (fixedHeaderSize + jsonLength + alignment - 1) / alignment * alignment
    }

    public static func encode(_ m: Model) -> [UInt8] {
        var out = header(for: m)
        out.reserveCapacity(out.count + m.data.count)
        out += m.data
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> Model {
        try withBytes(bytes) { (raw) throws(ModelError) in try decode(raw) }
    }

    /// Decodes from a borrowed buffer (for example a received message body).
    public static func decode(_ raw: UnsafeRawBufferPointer) throws(ModelError) -> Model {
        let r = ByteReader(raw, context: "model file")
        try r.require(0, fixedHeaderSize, "the fixed header")
        guard magic.withUnsafeBytes({ $0.elementsEqual(raw[0..<8]) }) else {
            throw .malformed("not a Tributary model (bad magic)")
        }
        let jsonLength = Int(try r.u32(at: 8, "JSON length"))
        let flags = try r.u32(at: 12, "flags")
        let dataLength = try checkedLength(try r.u64(at: 16, "data length"), "model data")
        let checksum = try r.u64(at: 24, "checksum")
        guard flags == 0 else { throw .malformed("unsupported flags 0x\(String(flags, radix: 16))") }
        guard jsonLength <= maxSpecJSONBytes else {
            throw .malformed("spec JSON of \(jsonLength) bytes exceeds the \(maxSpecJSONBytes)-byte limit")
        }
        let json = try r.slice(fixedHeaderSize, jsonLength, "the spec JSON")
        let offset = dataOffset(jsonLength: jsonLength)
        try r.require(fixedHeaderSize + jsonLength, offset - fixedHeaderSize - jsonLength, "the header padding")
        guard raw[(fixedHeaderSize + jsonLength)..<offset].allSatisfy({ $0 == 0 }) else {
            throw .malformed("header padding is not zero")
        }
        guard raw.count - offset == dataLength else {
            throw .malformed("header says \(dataLength) data bytes but \(raw.count - offset) follow the header")
        }
        let spec: ModelSpec
        do {
            spec = try JSONDecoder().decode(ModelSpec.self, from: Data(json))
        } catch {
            throw .malformed("bad spec JSON: \(error)")
        }
        try spec.validate()
        guard spec.totalBytes == dataLength else {
            throw .sizeMismatch(expected: spec.totalBytes, actual: dataLength)
        }
        let data = UnsafeRawBufferPointer(rebasing: raw[offset...])
        guard Checksum.xxh3(data) == checksum else { throw .checksumMismatch }
        return try Model(spec: spec, data: Array(data))
    }

    /// Writes durably: temp file in the same directory, fsync, rename, fsync the directory.
    public static func write(_ m: Model, to url: URL) throws {
        let head = header(for: m)
        try withBytes(head) { (h) throws(ModelError) in
            try withBytes(m.data) { (d) throws(ModelError) in try DurableFile.write([h, d], to: url) }
        }
    }

    /// Reads a model file mapped (`MappedFile`): the data is copied once, into the model.
    public static func read(from url: URL) throws -> Model {
        let file = try MappedFile(url: url)
        return try decode(file.bytes)
    }
}
