/// Element type of a tensor. Raw bytes are always little-endian.
public enum DType: String, Codable, Sendable, CaseIterable {
    case float32
    case float64
    case int32
    case int64
    case uint8

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32, .int32: 4
        case .float64, .int64: 8
        case .uint8: 1
        }
    }

    /// NumPy's `descr` string for this type (`.npy` headers).
    public var numpyDescr: String {
        switch self {
        case .float32: "<f4"
        case .float64: "<f8"
        case .int32: "<i4"
        case .int64: "<i8"
        case .uint8: "|u1"
        }
    }

    /// Parses a NumPy `descr`; accepts `<`, `|` and `=` byte orders (this host is little-endian).
    public init?(numpyDescr: String) {
        guard let first = numpyDescr.first else { return nil }
        var code = numpyDescr
        if first == "<" || first == "|" || first == "=" { code.removeFirst() }
        switch code {
        case "f4": self = .float32
        case "f8": self = .float64
        case "i4": self = .int32
        case "i8": self = .int64
        case "u1": self = .uint8
        default: return nil
        }
    }

    /// Whether updates of this type can be averaged.
    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }
}
