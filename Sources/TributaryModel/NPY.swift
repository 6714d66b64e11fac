/// The NumPy `.npy` array format (header parse and format), as used inside `.npz` archives.
///
/// A `.npy` file is: magic `"\x93NUMPY"`, major and minor version bytes, a header length
/// (`u16` LE for version 1.0, `u32` LE for 2.0 and 3.0), the header (a Python dict literal,
/// Latin-1 in 1.0/2.0 and UTF-8 in 3.0) padded with spaces and ending in `\n`, then the raw
/// array data in C order. Example header:
///
///     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
///
/// We write version 1.0 (2.0 when the header would not fit in 65 535 bytes) and pad so that the
/// data starts at a multiple of 64, as NumPy does. We read 1.0, 2.0 and 3.0, the dtypes of
/// `DType`, and C order only.
enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Cap on the header length we accept (NumPy itself refuses headers over 10 000 bytes by default).
    static let maxHeaderBytes = 1 << 20

    struct Header: Equatable {
        var dtype: DType
        var shape: [Int]
    }

    /// The bytes that precede the data of an array with this dtype and shape.
    static func header(dtype: DType, shape: [Int]) -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = "{'descr': '\(dtype.numpyDescr)', 'fortran_order': False, 'shape': \(shapeText), }"
        var body = Array(dict.utf8)
        // Version 1.0 stores the padded header length in a u16; fall back to 2.0 (u32) if needed.
        let v1Total = (10 + body.count + 1 + 63) / 64 * 64
        let v1 = v1Total - 10 <= Int(UInt16.max)
        let prefix = v1 ? 10 : 12
        let total = (prefix + body.count + 1 + 63) / 64 * 64
        body += [UInt8](repeating: 0x20, count: total - prefix - body.count - 1)
        body.append(0x0A)
        var out = magic
        out += v1 ? [1, 0] : [2, 0]
        if v1 { out.appendLE(UInt16(body.count)) } else { out.appendLE(UInt32(body.count)) }
        return out + body
    }

    /// Parses the header at the start of `bytes`; returns it and the offset where data starts.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, name: String) throws(ModelError) -> (Header, dataOffset: Int) {
        let r = ByteReader(bytes, context: "array '\(name)'")
        try r.require(0, 10, "the .npy preamble")
        guard magic.withUnsafeBytes({ $0.elementsEqual(bytes[0..<6]) }) else {
            throw .malformed("array '\(name)' is not a .npy array (bad magic)")
        }
        let major = bytes[6]
        let length: Int
        let start: Int
        switch major {
        case 1: length = Int(try r.u16(at: 8, "header length")); start = 10
        case 2, 3: length = Int(try r.u32(at: 8, "header length")); start = 12
        default: throw .malformed("array '\(name)' uses unsupported .npy version \(major).\(bytes[7])")
        }
        guard length <= maxHeaderBytes else { throw .malformed("array '\(name)' has a \(length)-byte header") }
        let text = try r.slice(start, length, "the .npy header")
        // Latin-1 (1.0/2.0) and UTF-8 (3.0) agree on the ASCII that a valid header uses.
        var parser = DictLiteralParser(bytes: Array(text), name: name)
        let header = try parser.parse()
        return (header, start + length)
    }
}

/// Parses the restricted Python dict literal of a `.npy` header: string keys; values that are
/// strings, `True`/`False`, or tuples of non-negative integers. Anything else (structured
/// dtypes, which are lists) is rejected with a clear message.
private struct DictLiteralParser {
    let bytes: [UInt8]
    let name: String
    var i = 0

    init(bytes: [UInt8], name: String) {
        self.bytes = bytes
        self.name = name
    }

    enum Value { case string(String), bool(Bool), tuple([Int]) }

    mutating func parse() throws(ModelError) -> NPY.Header {
        var dict: [String: Value] = [:]
        try expect(UInt8(ascii: "{"))
        while true {
            skipSpace()
            if peek() == UInt8(ascii: "}") { i += 1; break }
            guard case .string(let key) = try value() else { throw fail("dict key is not a string") }
            try expect(UInt8(ascii: ":"))
            dict[key] = try value()
            skipSpace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            break
        }
        guard case .string(let descr)? = dict["descr"] else { throw fail("missing or non-string 'descr' (structured dtypes are not supported)") }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw fail("missing 'fortran_order'") }
        guard case .tuple(let shape)? = dict["shape"] else { throw fail("missing 'shape'") }
        guard let dtype = DType(numpyDescr: descr) else {
            throw .malformed("array '\(name)' has unsupported dtype '\(descr)' (supported: <f4 <f8 <i4 <i8 |u1)")
        }
        guard !fortran else { throw .malformed("array '\(name)' is in Fortran order; save it C-contiguous (np.ascontiguousarray)") }
        return NPY.Header(dtype: dtype, shape: shape)
    }

    func fail(_ what: String) -> ModelError { .malformed("array '\(name)' has a bad .npy header: \(what)") }

    func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    mutating func skipSpace() {
        while let c = peek(), c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { i += 1 }
    }

    mutating func expect(_ c: UInt8) throws(ModelError) {
        skipSpace()
        guard peek() == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))' at byte \(i)") }
        i += 1
    }

    mutating func value() throws(ModelError) -> Value {
        skipSpace()
        guard let c = peek() else { throw fail("unexpected end") }
        switch c {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            i += 1
            let start = i
            while let d = peek(), d != c { i += 1 }
            guard peek() == c else { throw fail("unterminated string") }
            defer { i += 1 }
            return .string(String(decoding: bytes[start..<i], as: UTF8.self))
        case UInt8(ascii: "T"), UInt8(ascii: "F"):
            for (word, v) in [("True", true), ("False", false)] where bytes[i...].starts(with: word.utf8) {
                i += word.utf8.count
                return .bool(v)
            }
            throw fail("bad literal at byte \(i)")
        case UInt8(ascii: "("):
            i += 1
            var items: [Int] = []
            while true {
                skipSpace()
                if peek() == UInt8(ascii: ")") { i += 1; break }
                items.append(try integer())
                guard items.count <= ModelSpec.maxRank else { throw fail("shape has more than \(ModelSpec.maxRank) dimensions") }
                skipSpace()
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: ")"))
                break
            }
            return .tuple(items)
        default:
            throw fail("unsupported value at byte \(i)")
        }
    }

    mutating func integer() throws(ModelError) -> Int {
        var n = 0
        var digits = 0
        while let c = peek(), c >= 0x30, c <= 0x39 {
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(c - 0x30))
            guard !o1, !o2 else { throw fail("dimension too large") }
            n = s
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw fail("expected a dimension at byte \(i)") }
        if peek() == UInt8(ascii: "L") { i += 1 }  // Python 2 long literal
        return n
    }
}
