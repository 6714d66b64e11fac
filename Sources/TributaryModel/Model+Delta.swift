/// Updates sent as deltas (Octomil's `update_format: "delta"`, a device's `trained − base`):
/// the full weights are `base + delta`, element by element, in the tensor's own precision.
extension Model {
    /// `self + delta`. The delta must have exactly this model's layout (names, dtypes, shapes,
    /// order) and only float tensors; a non-finite sum is refused like a non-finite update.
    public func applying(delta: Model) throws(ModelError) -> Model {
        guard delta.spec == spec else { throw .specMismatch(Self.describeMismatch(expected: spec, got: delta.spec)) }
        var out = self
        for (tensor, offset) in zip(spec.tensors, spec.offsets) {
            switch tensor.dtype {
            case .float32: Self.add(&out.data, delta.data, offset: offset, count: tensor.count, as: Float.self)
            case .float64: Self.add(&out.data, delta.data, offset: offset, count: tensor.count, as: Double.self)
            default: throw .unsupportedDType(tensor.dtype)
            }
        }
        try out.validateFinite()
        return out
    }

    /// Throws `.nonFinite` naming the first float tensor with a NaN or infinite value.
    public func validateFinite() throws(ModelError) {
        let spec = self.spec
        try Model.withBytes(data) { (raw) throws(ModelError) in try UpdateValidation.validate(raw, spec: spec) }
    }

    private static func withBytes(_ data: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ModelError) -> Void) throws(ModelError) {
        var failure: ModelError?
        data.withUnsafeBytes { raw in
            do throws(ModelError) { try body(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// The first difference between two layouts, for an error a device developer can act on.
    public static func describeMismatch(expected: ModelSpec, got: ModelSpec) -> String {
        guard expected.tensors.count == got.tensors.count else {
            return "expected \(expected.tensors.count) tensors (\(expected.tensors.map(\.name).prefix(8).joined(separator: ", "))), got \(got.tensors.count) (\(got.tensors.map(\.name).prefix(8).joined(separator: ", ")))"
        }
        for (e, g) in zip(expected.tensors, got.tensors) where e != g {
            return "expected tensor '\(e.name)' \(e.dtype.rawValue) \(e.shape), got '\(g.name)' \(g.dtype.rawValue) \(g.shape)"
        }
        return "layouts differ"
    }

    private static func add<T: BinaryFloatingPoint>(_ data: inout [UInt8], _ delta: [UInt8], offset: Int, count: Int, as: T.Type) {
        data.withUnsafeMutableBytes { out in
            delta.withUnsafeBytes { d in
                for i in 0..<count {
                    let at = offset + i * MemoryLayout<T>.size
                    let sum = out.loadUnaligned(fromByteOffset: at, as: T.self) + d.loadUnaligned(fromByteOffset: at, as: T.self)
                    out.storeBytes(of: sum, toByteOffset: at, as: T.self)
                }
            }
        }
    }
}
