import Foundation

/// The parameters of secure aggregation for a session (`session_config.secure_aggregation`).
/// Defaults follow Flower's `SecAggPlusWorkflow` where it has them (clipping 8, quantization
/// 2²², modulus 2³², max weight 1000); the neighbourhood defaults to 5 shares with threshold 3.
public struct SecAggConfig: Codable, Sendable, Equatable {
    /// Neighbours per participant, itself included (odd; capped at the cohort's size).
    public var numShares: Int = 5
    /// Shares needed to reconstruct a secret (2 ≤ t ≤ numShares): this many of a participant's
    /// neighbours must survive to the end, and fewer than this many colluding ones learn nothing.
    public var reconstructionThreshold: Int = 3
    /// Each weighted coordinate of an update's difference from the global model is clipped to ±this.
    public var clippingRange: Double = 8.0
    /// Quantization levels over [−clippingRange, clippingRange].
    public var quantizationRange: UInt32 = 1 << 22
    /// The masking modulus: a power of two, at most 2³², more than quantizationRange.
    public var modulusRange: UInt64 = 1 << 32
    /// Example counts are capped at this; a participant's update is weighted by examples ÷ maxWeight.
    public var maxWeight: Double = 1000
    /// Seconds each stage waits for the participants before going on with those that answered.
    public var timeout: Double = 30

    enum CodingKeys: String, CodingKey {
        case numShares = "num_shares", reconstructionThreshold = "reconstruction_threshold", clippingRange = "clipping_range"
        case quantizationRange = "quantization_range", modulusRange = "modulus_range", maxWeight = "max_weight", timeout
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = SecAggConfig()
        numShares = try c.decodeIfPresent(Int.self, forKey: .numShares) ?? defaults.numShares
        reconstructionThreshold = try c.decodeIfPresent(Int.self, forKey: .reconstructionThreshold) ?? defaults.reconstructionThreshold
        clippingRange = try c.decodeIfPresent(Double.self, forKey: .clippingRange) ?? defaults.clippingRange
        quantizationRange = try c.decodeIfPresent(UInt32.self, forKey: .quantizationRange) ?? defaults.quantizationRange
        modulusRange = try c.decodeIfPresent(UInt64.self, forKey: .modulusRange) ?? defaults.modulusRange
        maxWeight = try c.decodeIfPresent(Double.self, forKey: .maxWeight) ?? defaults.maxWeight
        timeout = try c.decodeIfPresent(Double.self, forKey: .timeout) ?? defaults.timeout
    }

    /// The first field that is out of range, with why; nil when the configuration is usable.
    public func problem() -> (field: String, message: String)? {
        if numShares < 3 || numShares % 2 == 0 { return ("num_shares", "must be an odd number of at least 3") }
        if reconstructionThreshold < 2 || reconstructionThreshold > numShares {
            return ("reconstruction_threshold", "must be between 2 and num_shares (\(numShares))")
        }
        if !(clippingRange > 0 && clippingRange.isFinite) { return ("clipping_range", "must be a positive number") }
        if quantizationRange < 2 { return ("quantization_range", "must be at least 2") }
        if modulusRange > 1 << 32 || modulusRange & (modulusRange - 1) != 0 || modulusRange <= UInt64(quantizationRange) {
            return ("modulus_range", "must be a power of two, at most 2^32 and above quantization_range")
        }
        if !(maxWeight >= 1 && maxWeight.isFinite) || maxWeight * 2 > Double(modulusRange) {
            return ("max_weight", "must be at least 1 and at most modulus_range / 2")
        }
        if !(timeout > 0 && timeout <= 3600) { return ("timeout", "must be between 0 and 3600 seconds") }
        return nil
    }

    /// The most participants one cohort may have: the sum of their quantized values and of their
    /// weights must stay below the modulus, or it would wrap.
    public var maxCohort: Int {
        Int(min(Double(modulusRange - 1) / Double(quantizationRange), Double(modulusRange - 1) / maxWeight))
    }

    /// `modulusRange − 1` as a mask (the modulus is a power of two).
    var modulusMask: UInt32 { UInt32(truncatingIfNeeded: modulusRange - 1) }
}
