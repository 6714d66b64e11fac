import Foundation

/// Seeded standard-normal generator for central-DP noise: xoshiro256** (Blackman & Vigna)
/// seeded through SplitMix64, and the Box–Muller transform using both values of each pair.
/// Its output is fixed by the seed on every platform and Swift version, so recording the
/// seed makes a round's noise reproducible (`SystemRandomNumberGenerator` and the standard
/// library's `random(in:using:)` algorithms promise no such thing).
struct GaussianNoise: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spare: Double?

    init(seed: UInt64) {
        var sm = seed
        s0 = Self.splitMix64(&sm)
        s1 = Self.splitMix64(&sm)
        s2 = Self.splitMix64(&sm)
        s3 = Self.splitMix64(&sm)
    }

    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Next 64 random bits (xoshiro256**).
    mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A standard normal sample: √(−2 ln u₁)·cos(2πu₂), then √(−2 ln u₁)·sin(2πu₂) on the next
    /// call, with u₁ ∈ (0, 1) and u₂ ∈ [0, 1) of 53 random bits each.
    mutating func normal() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        let u1 = (Double(next() >> 11) + 0.5) * 0x1.0p-53
        let u2 = Double(next() >> 11) * 0x1.0p-53
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spare = r * Foundation.sin(2 * Double.pi * u2)
        return r * Foundation.cos(2 * Double.pi * u2)
    }
}
