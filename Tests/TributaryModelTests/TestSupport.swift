import Foundation
@testable import TributaryModel

/// Small deterministic PRNG (SplitMix64) so test data is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum TestModels {
    /// A model with every dtype, a scalar, an empty tensor and odd sizes (so float64 data is
    /// not 8-byte aligned in the flat layout).
    static func allDTypes(seed: UInt64 = 1) throws -> Model {
        let spec = ModelSpec(tensors: [
            TensorSpec(name: "w32", dtype: .float32, shape: [3, 5]),
            TensorSpec(name: "w64", dtype: .float64, shape: [7]),
            TensorSpec(name: "scalar", dtype: .float32, shape: []),
            TensorSpec(name: "empty", dtype: .float64, shape: [0, 4]),
            TensorSpec(name: "i32", dtype: .int32, shape: [2, 2]),
            TensorSpec(name: "i64", dtype: .int64, shape: [3]),
            TensorSpec(name: "u8", dtype: .uint8, shape: [5]),
            TensorSpec(name: "layer/bias", dtype: .float32, shape: [1, 1, 3]),
        ])
        var rng = SplitMix64(seed: seed)
        let data = (0..<spec.totalBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var m = try Model(spec: spec, data: data)
        // Keep floats finite and readable.
        for (t, off) in zip(spec.tensors, spec.offsets) where t.dtype.isFloatingPoint {
            for i in 0..<t.count {
                let v = Double.random(in: -10...10, using: &rng)
                m.data.withUnsafeMutableBytes { raw in
                    if t.dtype == .float32 {
                        raw.storeBytes(of: Float(v), toByteOffset: off + i * 4, as: Float.self)
                    } else {
                        raw.storeBytes(of: v, toByteOffset: off + i * 8, as: Double.self)
                    }
                }
            }
        }
        return m
    }

    /// Float-only model (mixed f32/f64, odd counts) filled with values in [-1, 1].
    static func floatModel(spec: ModelSpec, seed: UInt64) throws -> Model {
        var rng = SplitMix64(seed: seed)
        var m = try Model(zeros: spec)
        for (t, off) in zip(spec.tensors, spec.offsets) {
            for i in 0..<t.count {
                let v = Double.random(in: -1...1, using: &rng)
                m.data.withUnsafeMutableBytes { raw in
                    if t.dtype == .float32 {
                        raw.storeBytes(of: Float(v), toByteOffset: off + i * 4, as: Float.self)
                    } else {
                        raw.storeBytes(of: v, toByteOffset: off + i * 8, as: Double.self)
                    }
                }
            }
        }
        return m
    }

    static let mixedFloatSpec = ModelSpec(tensors: [
        TensorSpec(name: "a", dtype: .float32, shape: [37]),
        TensorSpec(name: "b", dtype: .float64, shape: [3, 11]),
        TensorSpec(name: "c", dtype: .float32, shape: []),
        TensorSpec(name: "d", dtype: .float64, shape: [0]),
        TensorSpec(name: "e", dtype: .float32, shape: [5, 5, 3]),
    ])

    /// Value `i` of a float tensor as Double.
    static func value(_ m: Model, _ tensor: Int, _ i: Int) -> Double {
        let t = m.spec.tensors[tensor]
        let off = m.spec.offsets[tensor]
        return m.data.withUnsafeBytes { raw in
            t.dtype == .float32 ? Double(raw.loadUnaligned(fromByteOffset: off + i * 4, as: Float.self))
                                : raw.loadUnaligned(fromByteOffset: off + i * 8, as: Double.self)
        }
    }

    static func tempDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trbmodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
