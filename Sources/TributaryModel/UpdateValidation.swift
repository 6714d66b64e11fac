/// Checks that a client's update is safe to aggregate: right size, all finite, bounded norm.
///
/// One NaN or ∞ from one client would poison the average for everyone (`NaN·w + …` is NaN),
/// so every float value is checked before any of it is folded. The optional norm bound
///
///     ‖x‖₂ = √(Σ_t Σ_i x_{t,i}²) ≤ maxNorm      (over all float32/float64 tensors t)
///
/// rejects grossly scaled updates (a crude but cheap robustness guard). Non-float tensors
/// (int32, int64, uint8) are allowed in models — they are skipped here — but
/// `FedAvgAccumulator` refuses to aggregate them.
public enum UpdateValidation {
    /// Validates a whole update in the flat layout of `spec`.
    public static func validate(_ bytes: UnsafeRawBufferPointer, spec: ModelSpec, maxNorm: Double? = nil) throws(ModelError) {
        guard bytes.count == spec.totalBytes else { throw .sizeMismatch(expected: spec.totalBytes, actual: bytes.count) }
        guard let base = bytes.baseAddress else { return }  // empty model
        var squares = 0.0
        for (t, offset) in zip(spec.tensors, spec.offsets) where t.dtype.isFloatingPoint {
            let p = base + offset
            try checkFinite(p, count: t.count, t)
            if maxNorm != nil {
                squares += t.dtype == .float32 ? sumOfSquares(p, count: t.count, as: Float.self)
                                               : sumOfSquares(p, count: t.count, as: Double.self)
            }
        }
        if let maxNorm {
            let norm = squares.squareRoot()
            guard norm <= maxNorm else { throw .normExceeded(norm: norm, limit: maxNorm) }
        }
    }

    /// Checks that every float value in `chunk`, which holds flat bytes `offset ..< offset+chunk.count`
    /// of a model with `spec`, is finite. The chunk must lie within the model and must not split
    /// an element of a float tensor (chunks from `ChunkPlan` never do).
    public static func validateFinite(_ chunk: UnsafeRawBufferPointer, at offset: Int, spec: ModelSpec) throws(ModelError) {
        let total = spec.totalBytes
        guard offset >= 0, offset <= total, chunk.count <= total - offset else {
            throw .malformed("chunk \(offset)..<\(offset + chunk.count) lies outside the model's \(total) bytes")
        }
        guard let base = chunk.baseAddress else { return }
        let end = offset + chunk.count
        for (t, start) in zip(spec.tensors, spec.offsets) {
            let tEnd = start + t.byteCount
            if tEnd <= offset { continue }
            if start >= end { break }
            guard t.dtype.isFloatingPoint else { continue }
            let lo = max(start, offset)
            let hi = min(tEnd, end)
            let size = t.dtype.size
            guard (lo - start) % size == 0, (hi - start) % size == 0 else {
                throw .malformed("chunk \(offset)..<\(end) splits an element of tensor '\(t.name)'")
            }
            try checkFinite(base + (lo - offset), count: (hi - lo) / size, t)
        }
    }

    private static func checkFinite(_ p: UnsafeRawPointer, count: Int, _ t: TensorSpec) throws(ModelError) {
        let ok = t.dtype == .float32 ? allFinite(p, count: count, as: Float.self) : allFinite(p, count: count, as: Double.self)
        guard ok else { throw .nonFinite(tensor: t.name) }
    }
}
