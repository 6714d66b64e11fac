/// Stochastic quantization of weighted update coordinates (as Flower's `quantization.py`, with
/// the weighting done here): y = clip(v, −c, c) ↦ (y + c)·Q/(2c), rounded up with probability
/// equal to its fractional part, so E[q] is exact and |dequantized − y| < 2c/Q.
public struct Quantizer: Sendable {
    public let clipping: Double
    public let levels: UInt32

    public init(clipping: Double, levels: UInt32) {
        self.clipping = clipping
        self.levels = levels
    }

    /// One quantized value in [0, levels].
    public func quantize<G: RandomNumberGenerator>(_ value: Double, using generator: inout G) -> UInt32 {
        let clipped = value.isNaN ? 0 : min(max(value, -clipping), clipping)
        let scaled = (clipped + clipping) * Double(levels) / (2 * clipping)
        let floor = scaled.rounded(.down)
        let up = Double.random(in: 0..<1, using: &generator) < scaled - floor
        return min(UInt32(floor) + (up ? 1 : 0), levels)
    }

    /// The sum of `count` participants' original values from the sum of their quantized ones.
    public func dequantizeSum(_ sum: UInt32, count: Int) -> Double {
        Double(sum) * 2 * clipping / Double(levels) - Double(count) * clipping
    }

    /// The largest error of one dequantized value.
    public var step: Double { 2 * clipping / Double(levels) }
}
