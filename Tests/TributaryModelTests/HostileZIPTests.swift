import Testing
@testable import TributaryModel

/// Hand-built ZIP archives that target the specific ways a trusting reader breaks.
@Suite struct HostileZIPTests {
    struct Entry {
        var name: String
        var method: UInt16 = 0
        var payload: [UInt8]
        var uncompressedSize: Int? = nil
        var crc: UInt32? = nil
        var localOffsetOverride: UInt32? = nil
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~c
    }

    static func zip(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for e in entries {
            let name = Array(e.name.utf8)
            let size = UInt32(e.uncompressedSize ?? e.payload.count)
            let crc = e.crc ?? crc32(e.payload)
            let offset = UInt32(out.count)
            out.appendLE(UInt32(0x0403_4b50)); out.appendLE(UInt16(20)); out.appendLE(UInt16(0)); out.appendLE(e.method)
            out.appendLE(UInt32(0)); out.appendLE(crc); out.appendLE(UInt32(e.payload.count)); out.appendLE(size)
            out.appendLE(UInt16(name.count)); out.appendLE(UInt16(0))
            out += name + e.payload
            central.appendLE(UInt32(0x0201_4b50)); central.appendLE(UInt16(20)); central.appendLE(UInt16(20))
            central.appendLE(UInt16(0)); central.appendLE(e.method); central.appendLE(UInt32(0)); central.appendLE(crc)
            central.appendLE(UInt32(e.payload.count)); central.appendLE(size)
            central.appendLE(UInt16(name.count)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0))
            central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt32(0))
            central.appendLE(e.localOffsetOverride ?? offset)
            central += name
        }
        let cdOffset = UInt32(out.count)
        out += central
        out.appendLE(UInt32(0x0605_4b50)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(UInt16(entries.count)); out.appendLE(UInt16(entries.count))
        out.appendLE(UInt32(central.count)); out.appendLE(cdOffset); out.appendLE(UInt16(0))
        return out
    }

    static let npy = NPY.header(dtype: .float32, shape: [2]) + [0, 0, 128, 63, 0, 0, 0, 64]  // [1, 2]

    @Test func handBuiltArchiveIsAccepted() throws {
        let m = try NPZ.decode(Self.zip([Entry(name: "x.npy", payload: Self.npy)]))
        #expect(try m.float32s("x") == [1, 2])
    }

    @Test func endlessDeflateStreamIsRefusedNotHung() throws {
        // A stored deflate block announcing 65 535 bytes, cut short: the stream never ends.
        let payload: [UInt8] = [0x00, 0xFF, 0xFF, 0x00, 0x00] + [UInt8](repeating: 0x41, count: 95)
        let archive = Self.zip([Entry(name: "x.npy", method: 8, payload: payload, uncompressedSize: 100_000, crc: 0)])
        #expect(throws: ModelError.malformed("npz entry 'x.npy' has a truncated deflate stream")) { try NPZ.decode(archive) }
    }

    @Test func oversizeInflationAndBombClaimsAreRefused() throws {
        let payload: [UInt8] = [0x00, 0xFF, 0xFF, 0x00, 0x00] + [UInt8](repeating: 0x41, count: 95)
        let small = Self.zip([Entry(name: "x.npy", method: 8, payload: payload, uncompressedSize: 10, crc: 0)])
        #expect(throws: ModelError.self) { try NPZ.decode(small) }
        let bomb = Self.zip([Entry(name: "x.npy", method: 8, payload: payload, uncompressedSize: 1 << 30, crc: 0)])
        #expect(throws: ModelError.self) { try NPZ.decode(bomb) }
        let garbage = Self.zip([Entry(name: "x.npy", method: 8, payload: [0xFF, 0xFF, 0xFF, 0xFF], uncompressedSize: 8, crc: 0)])
        #expect(throws: ModelError.self) { try NPZ.decode(garbage) }
    }

    @Test func outOfBoundsOffsetsCRCAndShapeMismatchAreRefused() throws {
        for e in [
            Entry(name: "x.npy", payload: Self.npy, localOffsetOverride: 0xFFFF_0000),
            Entry(name: "x.npy", payload: Self.npy, localOffsetOverride: 3),
            Entry(name: "x.npy", payload: Self.npy, crc: 1234),
            Entry(name: "x.npy", payload: Array(Self.npy.dropLast(4)), crc: Self.crc32(Array(Self.npy.dropLast(4)))),
            Entry(name: "x.npy", method: 12, payload: Self.npy),
            Entry(name: "x.txt", payload: Self.npy),
        ] {
            #expect(throws: ModelError.self) { try NPZ.decode(Self.zip([e])) }
        }
        // Duplicate names are a bad spec.
        #expect(throws: ModelError.self) {
            try NPZ.decode(Self.zip([Entry(name: "x.npy", payload: Self.npy), Entry(name: "x.npy", payload: Self.npy)]))
        }
    }
}
