/// Streaming federated averaging (FedAvg) with memory of one model.
///
/// After updates `x₁ … xₙ` with weights `w₁ … wₙ` (typically the clients' sample counts):
///
///     acc = Σᵢ wᵢ·xᵢ        W = Σᵢ wᵢ        average() = acc / W
///
/// Each `add` folds one update into `acc` at once, so memory stays one model no matter how
/// many clients report. `acc` has the model's flat layout: float32 tensors are accumulated in
/// Float (memory 1× the model; ample precision for averaging) and float64 tensors in Double.
/// Integer tensors cannot be averaged and are refused at `init`.
///
/// **Hierarchical exactness.** A combiner `c` that aggregated its clients `i ∈ c` sends its
/// partial average `x̄_c = Σ_{i∈c} wᵢxᵢ / W_c` together with `W_c = totalWeight`. The controller
/// folds partials with weight `W_c`:
///
///     Σ_c W_c·x̄_c / Σ_c W_c  =  Σ_c Σ_{i∈c} wᵢxᵢ / Σ_c W_c  =  Σᵢ wᵢxᵢ / Σᵢ wᵢ
///
/// which is exactly the flat FedAvg over all clients — in real arithmetic; in floating point
/// the two agree to rounding (tests check 1e-5 relative for float32).
///
/// **All or nothing.** `add` checks size, weight and finiteness of *every* value before
/// folding anything, so a rejected update leaves the accumulator exactly as it was.
///
/// **Memory.** `acc` is allocated at the first update, not before; a first update handed over
/// whole (`add(taking:weight:)`, a staged upload) becomes `acc` itself, scaled in place; and
/// `takeAverage()` divides `acc` in place and hands it out as the model. So a tier that
/// folds one upload at a time holds at most two models' worth of sums and staging.
public struct FedAvgAccumulator: Sendable {
    public let spec: ModelSpec
    private let offsets: [Int]
    /// Σ wᵢ·xᵢ in the flat layout of `spec`; empty until the first update.
    private var acc: [UInt8] = []
    public private(set) var totalWeight: Double = 0
    public private(set) var count: Int = 0

    /// Throws `.unsupportedDType` if any tensor is not float32/float64, or `.invalidSpec`.
    public init(spec: ModelSpec) throws(ModelError) {
        try spec.validate()
        if let bad = spec.tensors.first(where: { !$0.dtype.isFloatingPoint }) {
            throw .unsupportedDType(bad.dtype)
        }
        self.spec = spec
        self.offsets = spec.offsets
    }

    /// Folds one update given as flat bytes in the layout of `spec` (any alignment).
    public mutating func add(_ update: UnsafeRawBufferPointer, weight: Double) throws(ModelError) {
        guard update.count == spec.totalBytes else {
            throw .sizeMismatch(expected: spec.totalBytes, actual: update.count)
        }
        // The weight is also applied as a Float to float32 tensors, so it must survive that too.
        try Self.check(weight: weight)
        try UpdateValidation.validate(update, spec: spec)
        fold(finite: update, weight: weight)
    }

    /// Folds an update whose size and values were already checked (`UpdateValidation.ingest`
    /// found every float value finite): the fold is then the only pass over its bytes.
    public mutating func add(finite update: UnsafeRawBufferPointer, weight: Double) throws(ModelError) {
        guard update.count == spec.totalBytes else { throw .sizeMismatch(expected: spec.totalBytes, actual: update.count) }
        try Self.check(weight: weight)
        fold(finite: update, weight: weight)
    }

    /// Folds a checked update (as `add(finite:weight:)`) that the caller hands over: the first
    /// one becomes the sum itself, scaled in place (0 + w·x, bit for bit what folding it into
    /// zeros gives), so no second model-sized buffer is allocated for it.
    public mutating func add(taking update: inout [UInt8], weight: Double) throws(ModelError) {
        guard update.count == spec.totalBytes else { throw .sizeMismatch(expected: spec.totalBytes, actual: update.count) }
        try Self.check(weight: weight)
        guard acc.isEmpty else {
            update.withUnsafeBytes { fold(finite: $0, weight: weight) }
            return
        }
        let offsets = offsets, tensors = spec.tensors
        update.withUnsafeMutableBytes { a in
            guard let base = a.baseAddress else { return }
            for (t, off) in zip(tensors, offsets) where t.count > 0 {
                if t.dtype == .float32 {
                    scaleFromZero(base + off, count: t.count, by: Float(weight), as: Float.self)
                } else {
                    scaleFromZero(base + off, count: t.count, by: weight, as: Double.self)
                }
            }
        }
        swap(&acc, &update)
        update = []
        totalWeight += weight
        count += 1
    }

    /// The weight is also applied as a Float to float32 tensors, so it must survive that too.
    private static func check(weight: Double) throws(ModelError) {
        guard weight.isFinite, weight > 0, Float(weight).isFinite, Float(weight) > 0 else { throw .badWeight(weight) }
    }

    private mutating func fold(finite update: UnsafeRawBufferPointer, weight: Double) {
        if acc.isEmpty { acc = [UInt8](repeating: 0, count: spec.totalBytes) }
        if let x = update.baseAddress {
            let offsets = offsets
            let tensors = spec.tensors
            acc.withUnsafeMutableBytes { a in
                let base = a.baseAddress!
                for (t, off) in zip(tensors, offsets) where t.count > 0 {
                    if t.dtype == .float32 {
                        accumulateScaled(base + off, x + off, count: t.count, weight: Float(weight), as: Float.self)
                    } else {
                        accumulateScaled(base + off, x + off, count: t.count, weight: weight, as: Double.self)
                    }
                }
            }
        }
        totalWeight += weight
        count += 1
    }

    /// Folds one update given as a model; its spec must equal `spec` (names, dtypes, shapes, order).
    public mutating func add(_ update: Model, weight: Double) throws(ModelError) {
        if update.spec != spec { throw .specMismatch(Self.difference(spec, update.spec)) }
        let result: Result<Void, ModelError> = update.data.withUnsafeBytes { raw in
            do throws(ModelError) { try add(raw, weight: weight); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// `Σ wᵢ·xᵢ / Σ wᵢ`. Throws `.noUpdates` if nothing was added, and `.nonFinite` if the sum
    /// overflowed (possible only with extreme values times extreme weights).
    public func average() throws(ModelError) -> Model {
        var copy = self
        return try copy.takeAverage()
    }

    /// `average()` computed in place: the sum's buffer becomes the model, so closing a round
    /// allocates nothing. The accumulator is empty afterwards.
    public mutating func takeAverage() throws(ModelError) -> Model {
        guard count > 0 else { throw .noUpdates }
        var out: [UInt8] = []
        swap(&out, &acc)
        count = 0
        let totalWeight = totalWeight
        self.totalWeight = 0
        let tensors = spec.tensors
        let inverse = 1 / totalWeight
        let bad: String? = out.withUnsafeMutableBytes { a in
            guard let base = a.baseAddress else { return nil }
            for (t, off) in zip(tensors, offsets) where t.count > 0 {
                if t.dtype == .float32 {
                    scale(base + off, count: t.count, by: Float(inverse), as: Float.self)
                    if !allFinite(base + off, count: t.count, as: Float.self) { return t.name }
                } else {
                    scale(base + off, count: t.count, by: inverse, as: Double.self)
                    if !allFinite(base + off, count: t.count, as: Double.self) { return t.name }
                }
            }
            return nil
        }
        if let bad { throw .nonFinite(tensor: bad) }
        return try Model(spec: spec, data: out)
    }

    /// A short description of the first difference between two specs.
    static func difference(_ a: ModelSpec, _ b: ModelSpec) -> String {
        for (i, (x, y)) in zip(a.tensors, b.tensors).enumerated() where x != y {
            return "tensor \(i) is '\(y.name)' \(y.dtype.rawValue) \(y.shape), expected '\(x.name)' \(x.dtype.rawValue) \(x.shape)"
        }
        return "update has \(b.tensors.count) tensors, expected \(a.tensors.count)"
    }
}
