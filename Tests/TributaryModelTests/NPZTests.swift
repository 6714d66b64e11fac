import Foundation
import Testing
@testable import TributaryModel

@Suite struct NPZTests {
    @Test(arguments: [false, true])
    func roundTripAllDTypes(compressed: Bool) throws {
        let m = try TestModels.allDTypes()
        let bytes = try NPZ.encode(m, compressed: compressed)
        #expect(try NPZ.decode(bytes) == m)
    }

    @Test func roundTripEmptyModelAndFile() throws {
        let empty = try Model(spec: ModelSpec(tensors: []), data: [])
        #expect(try NPZ.decode(NPZ.encode(empty)) == empty)
        let dir = try TestModels.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.npz")
        let m = try TestModels.allDTypes(seed: 3)
        try NPZ.write(m, to: url)
        #expect(try NPZ.read(from: url) == m)
    }

    @Test func npyHeaderFormatAndParse() throws {
        for shape in [[], [3], [2, 3, 4], [0]] {
            let h = NPY.header(dtype: .float64, shape: shape)
            #expect(h.count % 64 == 0)
            let (parsed, offset) = try withBytes(h) { (raw) throws(ModelError) in try NPY.parseHeader(raw, name: "t") }
            #expect(parsed == NPY.Header(dtype: .float64, shape: shape))
            #expect(offset == h.count)
        }
        func parse(_ dict: String, major: UInt8 = 1) throws -> NPY.Header {
            var b = NPY.magic + [major, 0]
            if major == 1 { b.appendLE(UInt16(dict.utf8.count)) } else { b.appendLE(UInt32(dict.utf8.count)) }
            b += Array(dict.utf8)
            return try withBytes(b) { (raw) throws(ModelError) in try NPY.parseHeader(raw, name: "t").0 }
        }
        #expect(try parse("{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 3L), }\n") ==
                NPY.Header(dtype: .int64, shape: [2, 3]))
        #expect(try parse("{\"shape\": (5,), \"descr\": \"|u1\", \"fortran_order\": False}", major: 3) ==
                NPY.Header(dtype: .uint8, shape: [5]))
        for bad in [
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
            "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
            "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
            "",
        ] {
            #expect(throws: ModelError.self) { try parse(bad) }
        }
        #expect(throws: ModelError.self) { try parse("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", major: 4) }
    }

    @Test(arguments: [false, true])
    func hostileArchivesNeverCrash(compressed: Bool) throws {
        let bytes = try NPZ.encode(try TestModels.allDTypes(), compressed: compressed)
        for n in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: (any Error).self) { try NPZ.decode(Array(bytes.prefix(n))) }
        }
        var rng = SplitMix64(seed: compressed ? 11 : 12)
        for _ in 0..<3_000 {
            var b = bytes
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<b.count, using: &rng)
                b[i] = Bool.random(using: &rng) ? 0xFF : UInt8.random(in: 0...255, using: &rng)
            }
            _ = try? NPZ.decode(b)
        }
    }

    @Test func rejectsNonNpyEntriesAndGarbage() throws {
        #expect(throws: ModelError.self) { try NPZ.decode(Array("PK\u{5}\u{6}garbage garbage garbage".utf8)) }
        #expect(throws: ModelError.self) { try NPZ.decode([]) }
    }
}

/// Interop with real NumPy through a `python3` subprocess.
@Suite struct NumPyInteropTests {
    /// Runs a Python snippet; nil if NumPy is unavailable (an issue is recorded when `CI` is set).
    static func python(_ script: String, args: [String] = []) throws -> Int32? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + args
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    static func numpyAvailable() -> Bool {
        let ok = (try? python("import numpy")) == 0
        if !ok, ProcessInfo.processInfo.environment["CI"] != nil {
            Issue.record("NumPy is not importable by python3; CI must install numpy")
        }
        return ok
    }

    @Test(arguments: ["savez", "savez_compressed"])
    func readsFilesWrittenByNumPy(function: String) throws {
        guard Self.numpyAvailable() else { return }
        let dir = try TestModels.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("np.npz")
        let script = """
        import sys, numpy as np
        w = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8
        np.\(function)(sys.argv[1], w=w, s=np.float64(2.5), i=np.array([1, -2, 3], dtype=np.int64))
        """
        #expect(try Self.python(script, args: [url.path]) == 0)
        let m = try NPZ.read(from: url)
        #expect(m.spec.tensors == [
            TensorSpec(name: "w", dtype: .float32, shape: [2, 3, 4]),
            TensorSpec(name: "s", dtype: .float64, shape: []),
            TensorSpec(name: "i", dtype: .int64, shape: [3]),
        ])
        #expect(try m.float32s("w") == (0..<24).map { Float($0) / 8 })
        #expect(TestModels.value(m, 1, 0) == 2.5)
        let ints = m.data.withUnsafeBytes { raw in (0..<3).map { raw.loadUnaligned(fromByteOffset: 96 + 8 + $0 * 8, as: Int64.self) } }
        #expect(ints == [1, -2, 3])
    }

    @Test func readsPositionalArrays() throws {
        guard Self.numpyAvailable() else { return }
        let dir = try TestModels.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("pos.npz")
        #expect(try Self.python("import sys, numpy as np; np.savez(sys.argv[1], np.zeros(2, np.float32), np.ones((1, 2)))",
                                args: [url.path]) == 0)
        #expect(try NPZ.read(from: url).spec.tensors.map(\.name) == ["arr_0", "arr_1"])
    }

    @Test(arguments: [false, true])
    func numpyLoadsFilesWrittenBySwift(compressed: Bool) throws {
        guard Self.numpyAvailable() else { return }
        let dir = try TestModels.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("swift.npz")
        var m = try Model(float32: [(name: "w", shape: [2, 3, 4], values: (0..<24).map { Float($0) / 8 }),
                                    (name: "s", shape: [], values: [7])])
        m = try Model(spec: ModelSpec(tensors: m.spec.tensors + [TensorSpec(name: "d", dtype: .float64, shape: [2])]),
                      data: m.data + withUnsafeBytes(of: (1.25, -3.0)) { Array($0) })
        try NPZ.write(m, to: url, compressed: compressed)
        let script = """
        import sys, numpy as np
        z = np.load(sys.argv[1])
        assert list(z.files) == ['w', 's', 'd'], z.files
        w = z['w']; s = z['s']; d = z['d']
        assert w.dtype == np.float32 and w.shape == (2, 3, 4), (w.dtype, w.shape)
        assert (w == np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8).all()
        assert s.shape == () and s.dtype == np.float32 and s == 7
        assert d.dtype == np.float64 and list(d) == [1.25, -3.0]
        """
        #expect(try Self.python(script, args: [url.path]) == 0)
    }
}
