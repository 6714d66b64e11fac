/// Name, element type and shape of one tensor.
public struct TensorSpec: Codable, Sendable, Hashable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements (1 for a scalar, whose shape is `[]`).
    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.size }
}

/// The layout of a model: its tensors in order. A model's data is the concatenation of its
/// tensors' raw little-endian bytes in this order, with no padding (the "flat layout"), which
/// is also how it moves on the wire and how it is aggregated.
public struct ModelSpec: Codable, Sendable, Hashable {
    public var tensors: [TensorSpec]

    public init(tensors: [TensorSpec]) { self.tensors = tensors }

    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.count } }

    /// Byte offset of each tensor in the flat layout.
    public var offsets: [Int] {
        var result: [Int] = []
        result.reserveCapacity(tensors.count)
        var offset = 0
        for t in tensors {
            result.append(offset)
            offset += t.byteCount
        }
        return result
    }

    /// Limits that keep a hostile spec from asking for absurd allocations.
    public static let maxTensors = 100_000
    public static let maxRank = 16
    public static let maxNameBytes = 1_024
    public static let maxTotalBytes = 1 << 36  // 64 GiB

    /// Checks the spec is well formed: unique non-empty names, sane ranks, non-negative
    /// dimensions, no overflow, and a total size within `maxTotalBytes`.
    public func validate() throws(ModelError) {
        guard tensors.count <= Self.maxTensors else { throw .invalidSpec("too many tensors (\(tensors.count))") }
        var names = Set<String>()
        var total = 0
        for t in tensors {
            guard !t.name.isEmpty, t.name.utf8.count <= Self.maxNameBytes else {
                throw .invalidSpec("bad tensor name '\(t.name.prefix(64))'")
            }
            guard names.insert(t.name).inserted else { throw .invalidSpec("duplicate tensor name '\(t.name)'") }
            guard t.shape.count <= Self.maxRank else { throw .invalidSpec("tensor '\(t.name)' has rank \(t.shape.count)") }
            var count = 1
            for d in t.shape {
                guard d >= 0 else { throw .invalidSpec("tensor '\(t.name)' has a negative dimension") }
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw .invalidSpec("tensor '\(t.name)' is too large") }
                count = p
            }
            let (bytes, o1) = count.multipliedReportingOverflow(by: t.dtype.size)
            let (sum, o2) = total.addingReportingOverflow(bytes)
            guard !o1, !o2, sum <= Self.maxTotalBytes else { throw .invalidSpec("model is too large") }
            total = sum
        }
    }
}
