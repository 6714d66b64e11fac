/// Errors from model formats, validation and aggregation. Each says what was wrong, so it can
/// go straight into an error reply and a log line.
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidSpec(String)
    case sizeMismatch(expected: Int, actual: Int)
    case specMismatch(String)
    case nonFinite(tensor: String)
    case unsupportedDType(DType)
    case badWeight(Double)
    case checksumMismatch
    case malformed(String)
    case io(String)
    /// An update's L2 norm is over the configured bound (`UpdateValidation`).
    case normExceeded(norm: Double, limit: Double)
    /// `FedAvgAccumulator.average()` was called before any update was added.
    case noUpdates

    public var description: String {
        switch self {
        case .invalidSpec(let s): "invalid model spec: \(s)"
        case .sizeMismatch(let e, let a): "size mismatch: expected \(e) bytes, got \(a)"
        case .specMismatch(let s): "model does not match: \(s)"
        case .nonFinite(let t): "tensor '\(t)' has a NaN or infinite value"
        case .unsupportedDType(let d): "dtype \(d.rawValue) cannot be aggregated"
        case .badWeight(let w): "weight must be positive and finite, got \(w)"
        case .checksumMismatch: "checksum mismatch"
        case .malformed(let s): "malformed model: \(s)"
        case .io(let s): "i/o error: \(s)"
        case .normExceeded(let n, let l): "update L2 norm \(n) exceeds the limit \(l)"
        case .noUpdates: "no updates to average"
        }
    }
}
