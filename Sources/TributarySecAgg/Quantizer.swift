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

    /// One quantized value in [0, levels], rounded up when `uniform` (in [0, 1)) is below its
    /// fractional part.
    public func quantize(_ value: Double, uniform: Double) -> UInt32 {
        let clipped = value.isNaN ? 0 : min(max(value, -clipping), clipping)
        let scaled = (clipped + clipping) * Double(levels) / (2 * clipping)
        let floor = scaled.rounded(.down)
        return min(UInt32(floor) + (uniform < scaled - floor ? 1 : 0), levels)
    }

    public func quantize<G: RandomNumberGenerator>(_ value: Double, using generator: inout G) -> UInt32 {
        quantize(value, uniform: Double.random(in: 0..<1, using: &generator))
    }

    /// Quantizes every value, drawing the rounding from AES-256-CTR under a fresh random key
    /// (one keystream pass: the system generator costs a system call per value on Linux).
    public func quantize(_ values: [Double]) throws(SecAggError) -> [UInt32] {
        var generator = SystemRandomNumberGenerator()
        var noise = [UInt32](repeating: 0, count: values.count)
        try MaskGenerator.apply(seed: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }, sign: 1, to: &noise)
        return values.indices.map { quantize(values[$0], uniform: Double(noise[$0]) / 4_294_967_296) }
    }

    /// The sum of `count` participants' original values from the sum of their quantized ones.
    public func dequantizeSum(_ sum: UInt32, count: Int) -> Double {
        Double(sum) * 2 * clipping / Double(levels) - Double(count) * clipping
    }

    /// The largest error of one dequantized value.
    public var step: Double { 2 * clipping / Double(levels) }
}
