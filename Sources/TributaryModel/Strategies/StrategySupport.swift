import Foundation

/// Errors of the robust rules: too few updates for the rule's parameters, a bad parameter,
/// or a model problem (mismatched specs, integer tensors, no updates).
public enum StrategyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rule needs at least `needed` updates for its parameters and got `got`.
    case tooFewUpdates(rule: String, needed: Int, got: Int, reason: String)
    case invalidParameter(String)
    case model(ModelError)

    public var description: String {
        switch self {
        case .tooFewUpdates(let rule, let needed, let got, let reason):
            "\(rule) needs at least \(needed) updates (\(reason)), got \(got)"
        case .invalidParameter(let s): "invalid aggregation parameter: \(s)"
        case .model(let e): e.description
        }
    }
}

/// Per-element optimizer state (Adam's m and v, a momentum buffer) in the flat layout of the
/// model it belongs to: float32 tensors' state is float32, float64 tensors' is float64, so
/// the state is the same size as the model and its bytes are exactly what the next step reads.
///
/// Codable as `{"spec": …, "data": "<base64 of the little-endian bytes>"}` — bit-exact, so an
/// optimizer restored from SQLite after a restart takes the identical next step.
public struct TensorBuffer: Codable, Sendable, Equatable {
    public let spec: ModelSpec
    public internal(set) var bytes: [UInt8]

    /// All-zero state for models of `spec`.
    public init(zeros spec: ModelSpec) {
        self.spec = spec
        self.bytes = [UInt8](repeating: 0, count: spec.totalBytes)
    }

    /// Float values of tensor `index` (for tests and inspection).
    public func values(tensor index: Int) -> [Double] { readTensor(bytes, spec, index) }

    private enum CodingKeys: String, CodingKey { case spec, data }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spec = try c.decode(ModelSpec.self, forKey: .spec)
        guard let data = Data(base64Encoded: try c.decode(String.self, forKey: .data)) else {
            throw DecodingError.dataCorruptedError(forKey: .data, in: c, debugDescription: "not base64")
        }
        do { try spec.validate() } catch {
            throw DecodingError.dataCorruptedError(forKey: .spec, in: c, debugDescription: error.description)
        }
        guard data.count == spec.totalBytes else {
            throw DecodingError.dataCorruptedError(forKey: .data, in: c,
                debugDescription: "\(data.count) bytes for a spec of \(spec.totalBytes)")
        }
        bytes = [UInt8](data)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(spec, forKey: .spec)
        try c.encode(Data(bytes).base64EncodedString(), forKey: .data)
    }
}

/// Tensor `index` of flat bytes in `spec` as Doubles (float32 widened exactly).
func readTensor(_ bytes: [UInt8], _ spec: ModelSpec, _ index: Int) -> [Double] {
    let t = spec.tensors[index]
    let off = spec.offsets[index]
    return bytes.withUnsafeBytes { raw in
        t.dtype == .float32
            ? (0..<t.count).map { Double(raw.loadUnaligned(fromByteOffset: off + $0 * 4, as: Float.self)) }
            : (0..<t.count).map { raw.loadUnaligned(fromByteOffset: off + $0 * 8, as: Double.self) }
    }
}

/// Stores `values` into tensor `index` of flat bytes in `spec`, rounding to the tensor's dtype.
func writeTensor(_ bytes: inout [UInt8], _ spec: ModelSpec, _ index: Int, _ values: [Double]) {
    let t = spec.tensors[index]
    let off = spec.offsets[index]
    bytes.withUnsafeMutableBytes { raw in
        for (i, v) in values.enumerated() {
            if t.dtype == .float32 {
                raw.storeBytes(of: Float(v), toByteOffset: off + i * 4, as: Float.self)
            } else {
                raw.storeBytes(of: v, toByteOffset: off + i * 8, as: Double.self)
            }
        }
    }
}

/// Throws unless every tensor is float32/float64 (integer tensors cannot be aggregated).
func requireFloat(_ spec: ModelSpec) throws(ModelError) {
    if let bad = spec.tensors.first(where: { !$0.dtype.isFloatingPoint }) { throw .unsupportedDType(bad.dtype) }
}

/// Throws unless `b` has exactly the spec `a` (names, dtypes, shapes, order).
func requireSameSpec(_ a: ModelSpec, _ b: ModelSpec) throws(ModelError) {
    if a != b { throw .specMismatch(FedAvgAccumulator.difference(a, b)) }
}

/// Checks a list of updates for a robust rule: non-empty, float-only, one spec.
func checkUpdates(_ updates: [Model]) throws(StrategyError) -> ModelSpec {
    guard let first = updates.first else { throw .model(.noUpdates) }
    do throws(ModelError) {
        try requireFloat(first.spec)
        for u in updates.dropFirst() { try requireSameSpec(first.spec, u.spec) }
    } catch { throw .model(error) }
    return first.spec
}

/// ‖a − b‖² over all float coordinates, accumulated in Double.
func squaredDistance(_ a: Model, _ b: Model) -> Double {
    var sum = 0.0
    for ti in a.spec.tensors.indices {
        for (x, y) in zip(readTensor(a.data, a.spec, ti), readTensor(b.data, b.spec, ti)) {
            sum += (x - y) * (x - y)
        }
    }
    return sum
}
