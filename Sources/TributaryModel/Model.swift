/// A model: an ordered list of named tensors, held as one flat little-endian byte array in
/// the order of `spec` (see `ModelSpec`). The flat form is what is stored, sent in chunks
/// and aggregated, so no step needs to re-pack tensors.
public struct Model: Sendable, Equatable {
    public var spec: ModelSpec
    public var data: [UInt8]

    /// Wraps flat data; throws if the spec is malformed or the data has the wrong length.
    public init(spec: ModelSpec, data: [UInt8]) throws(ModelError) {
        try spec.validate()
        guard data.count == spec.totalBytes else {
            throw .sizeMismatch(expected: spec.totalBytes, actual: data.count)
        }
        self.spec = spec
        self.data = data
    }

    /// A model of all-zero tensors.
    public init(zeros spec: ModelSpec) throws(ModelError) {
        try self.init(spec: spec, data: [UInt8](repeating: 0, count: spec.totalBytes))
    }

    /// Builds a float32 model from named arrays.
    public init(float32 tensors: [(name: String, shape: [Int], values: [Float])]) throws(ModelError) {
        var specs: [TensorSpec] = []
        var bytes: [UInt8] = []
        for t in tensors {
            let spec = TensorSpec(name: t.name, dtype: .float32, shape: t.shape)
            guard spec.count == t.values.count else {
                throw .specMismatch("tensor '\(t.name)' has \(t.values.count) values for shape \(t.shape)")
            }
            specs.append(spec)
            t.values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        try self.init(spec: ModelSpec(tensors: specs), data: bytes)
    }

    public var checksum: UInt64 { Checksum.xxh3(data) }

    /// Index of the tensor with this name.
    public func index(of name: String) -> Int? { spec.tensors.firstIndex { $0.name == name } }

    /// Copies a float32 tensor out as `[Float]`.
    public func float32s(_ name: String) throws(ModelError) -> [Float] {
        guard let i = index(of: name) else { throw .specMismatch("no tensor named '\(name)'") }
        let t = spec.tensors[i]
        guard t.dtype == .float32 else { throw .unsupportedDType(t.dtype) }
        let offset = spec.offsets[i]
        return data.withUnsafeBytes { raw in
            (0..<t.count).map { raw.loadUnaligned(fromByteOffset: offset + $0 * 4, as: Float.self) }
        }
    }

    /// Overwrites a float32 tensor from `[Float]` of the right count.
    public mutating func setFloat32s(_ name: String, _ values: [Float]) throws(ModelError) {
        guard let i = index(of: name) else { throw .specMismatch("no tensor named '\(name)'") }
        let t = spec.tensors[i]
        guard t.dtype == .float32 else { throw .unsupportedDType(t.dtype) }
        guard values.count == t.count else { throw .sizeMismatch(expected: t.count * 4, actual: values.count * 4) }
        let offset = spec.offsets[i]
        data.withUnsafeMutableBytes { raw in
            values.withUnsafeBytes { src in
                raw.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!, byteCount: src.count)
            }
        }
    }
}
