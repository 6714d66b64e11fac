import Foundation

/// Seeded standard-normal generator for central-DP noise: `SeededRandom` (xoshiro256** seeded
/// through SplitMix64) and the Box–Muller transform using both values of each pair.
/// Its output is fixed by the seed on every platform and Swift version, so recording the
/// seed makes a round's noise reproducible (`SystemRandomNumberGenerator` and the standard
/// library's `random(in:using:)` algorithms promise no such thing).
struct GaussianNoise: Sendable {
    private var random: SeededRandom
    private var spare: Double?

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    /// A standard normal sample: √(−2 ln u₁)·cos(2πu₂), then √(−2 ln u₁)·sin(2πu₂) on the next
    /// call, with u₁ ∈ (0, 1) and u₂ ∈ [0, 1) of 53 random bits each.
    mutating func normal() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        let u1 = random.openUnitDouble()
        let u2 = random.unitDouble()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spare = r * Foundation.sin(2 * Double.pi * u2)
        return r * Foundation.cos(2 * Double.pi * u2)
    }
}
