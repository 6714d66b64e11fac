/// Shamir secret sharing of 32-byte secrets over GF(2¹²⁷ − 1): a random polynomial of degree
/// t − 1 per 15-byte chunk, evaluated at each holder's x (1-based). Any t shares give the secret
/// back; fewer give no information about it.
///
/// A share's bytes: x as u32 little-endian, then the three chunk values as 16-byte little-endian
/// integers — 52 bytes.
public enum Shamir {
    public static let secretLength = 32
    public static let shareLength = 4 + 3 * 16
    static let chunks: [Range<Int>] = [0..<15, 15..<30, 30..<32]

    /// One share per x in `holders` (distinct, ≥ 1), any `threshold` of which reconstruct `secret`.
    public static func split(_ secret: [UInt8], threshold: Int, holders: [UInt32]) -> [[UInt8]] {
        precondition(secret.count == secretLength && threshold >= 1 && Set(holders).count == holders.count && !holders.contains(0))
        var generator = SystemRandomNumberGenerator()
        // Coefficients per chunk: the secret chunk, then t − 1 random ones.
        let polynomials: [[UInt128]] = chunks.map { range in
            [integer(secret[range])] + (1..<threshold).map { _ in MersenneField.random(using: &generator) }
        }
        return holders.map { x in
            var share = bytes(UInt32(x))
            for coefficients in polynomials {
                // Horner: ((c_{t−1}·x + c_{t−2})·x + …)·x + c_0.
                var y: UInt128 = 0
                for c in coefficients.reversed() { y = MersenneField.add(MersenneField.mul(y, UInt128(x)), c) }
                share += bytes(y)
            }
            return share
        }
    }

    /// The secret from at least `threshold` shares (Lagrange interpolation at 0). Throws for a
    /// malformed share, a repeated x, or too few shares.
    public static func combine(_ shares: [[UInt8]], threshold: Int) throws(SecAggError) -> [UInt8] {
        guard shares.count >= threshold else { throw SecAggError(.failed, "\(shares.count) shares, \(threshold) needed") }
        let parsed = try shares.prefix(threshold).map { share throws(SecAggError) -> (x: UInt128, y: [UInt128]) in
            guard share.count == shareLength else { throw SecAggError(.invalid, "a share must be \(shareLength) bytes, not \(share.count)") }
            let x = UInt128(UInt32(littleEndian: share[0..<4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
            let y = (0..<3).map { integer(share[(4 + 16 * $0)..<(20 + 16 * $0)]) }
            guard x > 0, y.allSatisfy({ $0 < MersenneField.p }) else { throw SecAggError(.invalid, "a share is out of the field") }
            return (x, y)
        }
        guard Set(parsed.map(\.x)).count == parsed.count else { throw SecAggError(.invalid, "two shares have the same x") }
        var secret: [UInt8] = []
        for (chunk, range) in chunks.enumerated() {
            var value: UInt128 = 0
            for (i, share) in parsed.enumerated() {
                var numerator: UInt128 = 1, denominator: UInt128 = 1
                for (j, other) in parsed.enumerated() where j != i {
                    numerator = MersenneField.mul(numerator, other.x)
                    denominator = MersenneField.mul(denominator, MersenneField.sub(other.x, share.x))
                }
                value = MersenneField.add(value, MersenneField.mul(share.y[chunk], MersenneField.mul(numerator, MersenneField.inverse(denominator))))
            }
            let chunkBytes = bytes(value)
            guard chunkBytes[range.count...].allSatisfy({ $0 == 0 }) else { throw SecAggError(.invalid, "the shares do not belong to one secret") }
            secret += chunkBytes[0..<range.count]
        }
        return secret
    }

    /// Little-endian bytes as an integer (at most 16 of them).
    static func integer(_ bytes: ArraySlice<UInt8>) -> UInt128 {
        bytes.reversed().reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
    }

    static func bytes(_ value: UInt128) -> [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    static func bytes(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}
