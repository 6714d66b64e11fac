import Foundation
import Testing
@testable import TributaryModel

@Suite struct NativeFormatTests {
    @Test func roundTripAllDTypes() throws {
        let m = try TestModels.allDTypes()
        let bytes = NativeFormat.encode(m)
        #expect(Array(bytes.prefix(8)) == Array("TRBMODL1".utf8))
        #expect((bytes.count - m.data.count) % 64 == 0, "data starts 64-aligned")
        #expect(try NativeFormat.decode(bytes) == m)
        #expect(NativeFormat.encode(m) == bytes, "encoding is deterministic")
    }

    @Test func roundTripEmptyModelAndScalar() throws {
        let empty = try Model(spec: ModelSpec(tensors: []), data: [])
        #expect(try NativeFormat.decode(NativeFormat.encode(empty)) == empty)
        let scalar = try Model(float32: [(name: "s", shape: [], values: [3.5])])
        #expect(try NativeFormat.decode(NativeFormat.encode(scalar)) == scalar)
    }

    @Test func fileRoundTripIsDurableAndReplaces() throws {
        let dir = try TestModels.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.trb")
        let a = try TestModels.allDTypes(seed: 1)
        let b = try TestModels.allDTypes(seed: 2)
        try NativeFormat.write(a, to: url)
        #expect(try NativeFormat.read(from: url) == a)
        try NativeFormat.write(b, to: url)
        #expect(try NativeFormat.read(from: url) == b)
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.trb"])
        #expect(throws: ModelError.self) { try NativeFormat.read(from: dir.appendingPathComponent("missing")) }
    }

    @Test func rejectsTruncatedInputAtEveryLength() throws {
        let bytes = NativeFormat.encode(try TestModels.allDTypes())
        for n in 0..<bytes.count {
            #expect(throws: ModelError.self) { try NativeFormat.decode(Array(bytes.prefix(n))) }
        }
        #expect(throws: ModelError.self) { try NativeFormat.decode(bytes + [0]) }
    }

    @Test func rejectsWrongMagicFlagsAndChecksum() throws {
        let m = try TestModels.allDTypes()
        let bytes = NativeFormat.encode(m)
        var bad = bytes
        bad[0] = UInt8(ascii: "X")
        #expect(throws: ModelError.malformed("not a Tributary model (bad magic)")) { try NativeFormat.decode(bad) }
        bad = bytes
        bad[12] = 1
        #expect(throws: ModelError.self) { try NativeFormat.decode(bad) }
        bad = bytes
        bad[bad.count - 1] ^= 0x01  // flip a data bit
        #expect(throws: ModelError.checksumMismatch) { try NativeFormat.decode(bad) }
        bad = bytes
        bad[24] ^= 0x80  // flip a checksum bit
        #expect(throws: ModelError.checksumMismatch) { try NativeFormat.decode(bad) }
    }

    @Test func rejectsOversizeJSONAndBadSpec() throws {
        var header = Array("TRBMODL1".utf8)
        header.appendLE(UInt32(NativeFormat.maxSpecJSONBytes + 1))
        header.appendLE(UInt32(0))
        header.appendLE(UInt64(0))
        header.appendLE(UInt64(0))
        #expect(throws: ModelError.self) { try NativeFormat.decode(header + [UInt8](repeating: 0x20, count: 100)) }

        func file(json: String, data: [UInt8]) -> [UInt8] {
            var out = Array("TRBMODL1".utf8)
            out.appendLE(UInt32(json.utf8.count))
            out.appendLE(UInt32(0))
            out.appendLE(UInt64(data.count))
            out.appendLE(Checksum.xxh3(data))
            out += Array(json.utf8)
            out += [UInt8](repeating: 0, count: NativeFormat.dataOffset(jsonLength: json.utf8.count) - out.count)
            return out + data
        }
        let good = #"{"tensors":[{"dtype":"float32","name":"a","shape":[2]}]}"#
        #expect(try NativeFormat.decode(file(json: good, data: [UInt8](repeating: 0, count: 8))).spec.tensors.count == 1)
        // Length mismatch between spec and data.
        #expect(throws: ModelError.sizeMismatch(expected: 8, actual: 12)) {
            try NativeFormat.decode(file(json: good, data: [UInt8](repeating: 0, count: 12)))
        }
        for json in [
            "not json",
            #"{"tensors":[{"dtype":"float16","name":"a","shape":[2]}]}"#,
            #"{"tensors":[{"dtype":"float32","name":"a","shape":[-2]}]}"#,
            #"{"tensors":[{"dtype":"float32","name":"a","shape":[4611686018427387904, 4]}]}"#,
            #"{"tensors":[{"dtype":"float32","name":"a","shape":[1]},{"dtype":"float32","name":"a","shape":[1]}]}"#,
            String(repeating: "[", count: 100_000),
        ] {
            #expect(throws: ModelError.self) { try NativeFormat.decode(file(json: json, data: [UInt8](repeating: 0, count: 8))) }
        }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let bytes = NativeFormat.encode(try TestModels.allDTypes())
        var rng = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            var b = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = try? NativeFormat.decode(b)
        }
    }
}
