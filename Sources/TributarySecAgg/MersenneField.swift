/// Arithmetic in GF(p), p = 2¹²⁷ − 1 (a Mersenne prime), on `UInt128`: Shamir's field. A
/// 32-byte secret is shared as three elements (15 + 15 + 2 bytes), so reconstruction returns
/// exactly the bytes that keyed the mask generator (Octomil's Python client shares
/// `int(seed) mod p` instead, which cannot give the seed back).
enum MersenneField {
    static let p: UInt128 = (1 << 127) - 1

    /// x mod p for x < 2¹²⁸.
    @inline(__always) static func reduce(_ x: UInt128) -> UInt128 {
        // 2¹²⁷ ≡ 1 (mod p): fold the top bit down.
        var r = (x & p) &+ (x >> 127)
        if r >= p { r -= p }
        return r
    }

    static func add(_ a: UInt128, _ b: UInt128) -> UInt128 { reduce(a &+ b) }

    static func sub(_ a: UInt128, _ b: UInt128) -> UInt128 { a >= b ? a - b : a &+ (p - b) }

    static func mul(_ a: UInt128, _ b: UInt128) -> UInt128 {
        let (high, low) = a.multipliedFullWidth(by: b)
        // a·b = high·2¹²⁸ + low, and 2¹²⁸ ≡ 2; high < 2¹²⁶ since a, b < 2¹²⁷.
        return add(reduce(low), reduce(high << 1))
    }

    /// a⁻¹ = a^(p−2) (Fermat); a ≠ 0.
    static func inverse(_ a: UInt128) -> UInt128 {
        var result: UInt128 = 1, base = a, exponent = p - 2
        while exponent > 0 {
            if exponent & 1 == 1 { result = mul(result, base) }
            base = mul(base, base)
            exponent >>= 1
        }
        return result
    }

    /// A uniformly random element.
    static func random<G: RandomNumberGenerator>(using generator: inout G) -> UInt128 {
        while true {
            let value = UInt128(generator.next() as UInt64) << 64 | UInt128(generator.next() as UInt64)
            let candidate = value & p
            if candidate < p { return candidate }
        }
    }
}
