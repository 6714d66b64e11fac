import Foundation

/// xoshiro256** seeded through SplitMix64: a small, fast generator whose output is fixed by
/// its seed on every platform and Swift version. Partitions, initial weights and shuffles
/// must be reproducible across clients and machines (a client recomputes its own share of
/// the data from `--partition i/n` alone), which `SystemRandomNumberGenerator` and the
/// standard library's unspecified `shuffle(using:)` algorithm cannot promise — so the
/// helpers below (uniform ints, doubles, Fisher–Yates, normal, gamma) are our own too.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        s0 = Self.splitMix64(&sm)
        s1 = Self.splitMix64(&sm)
        s2 = Self.splitMix64(&sm)
        s3 = Self.splitMix64(&sm)
    }

    /// A generator for one purpose (`stream`) derived from a base seed, so e.g. the test split
    /// and the train partition never share random numbers even with the same seed.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: Self.mix(seed, stream))
    }

    /// Combines values into one well-scrambled seed (order matters).
    public static func mix(_ values: UInt64...) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for v in values {
            var x = h ^ v
            h = splitMix64(&x)
        }
        return h
    }

    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
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

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform integer in `0..<bound` (Lemire's multiply-shift with rejection, unbiased).
    public mutating func uniform(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform double in [0, 1) with 53 random bits.
    public mutating func unitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform double in (0, 1), for logarithms and powers that must not see 0.
    public mutating func openUnitDouble() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1.0p-53
    }

    /// Fisher–Yates shuffle with a fixed algorithm (same permutation everywhere).
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = uniform(below: i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// Standard normal sample (Box–Muller; one of the pair is discarded for simplicity).
    public mutating func normal() -> Double {
        let u1 = openUnitDouble()
        let u2 = unitDouble()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// Gamma(shape, 1) sample by Marsaglia–Tsang; for shape < 1 uses the boost
    /// Gamma(a) = Gamma(a + 1) · U^(1/a). May return 0 for very small shapes (underflow),
    /// which callers of `dirichlet` handle.
    public mutating func gamma(shape: Double) -> Double {
        precondition(shape > 0 && shape.isFinite, "gamma shape must be positive and finite")
        if shape < 1 {
            let g = gamma(shape: shape + 1)
            return g * Foundation.pow(openUnitDouble(), 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = openUnitDouble()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if Foundation.log(u) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v }
        }
    }

    /// A sample from the symmetric Dirichlet(α, …, α) over `count` categories. If every gamma
    /// draw underflows (tiny α), all mass goes to one uniformly chosen category — the limit
    /// the distribution tends to anyway.
    public mutating func dirichlet(alpha: Double, count: Int) -> [Double] {
        precondition(count > 0, "count must be positive")
        var g = (0..<count).map { _ in gamma(shape: alpha) }
        let sum = g.reduce(0, +)
        if sum > 0, sum.isFinite {
            for i in g.indices { g[i] /= sum }
        } else {
            g = [Double](repeating: 0, count: count)
            g[uniform(below: count)] = 1
        }
        return g
    }
}
