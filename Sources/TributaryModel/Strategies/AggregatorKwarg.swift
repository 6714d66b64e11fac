/// One value of a session's `aggregator_kwargs`: most are numbers, some name a variant
/// (FEDn's `serveropt: "adam"`, FedAdam's `bias_correction: "flower"`). Encodes as the bare
/// JSON value, so stored sessions read back unchanged.
public enum AggregatorKwarg: Codable, Sendable, Equatable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    case number(Double)
    case string(String)
    case bool(Bool)

    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(stringLiteral value: String) { self = .string(value) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "an aggregator kwarg must be a number, a string or a boolean") }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        }
    }

    /// The value as a JSON-friendly description for error messages.
    var shown: String {
        switch self {
        case .number(let d): "\(d)"
        case .string(let s): "'\(s)'"
        case .bool(let b): "\(b)"
        }
    }
}
