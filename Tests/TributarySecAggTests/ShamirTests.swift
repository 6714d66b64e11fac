import Testing
@testable import TributarySecAgg

@Suite("Shamir over GF(2^127 - 1) and the field")
struct ShamirTests {
    @Test("Field arithmetic: hand-computed cases, inverse, reduction at the edges")
    func field() {
        let p = MersenneField.p
        #expect(MersenneField.add(p - 1, 1) == 0)
        #expect(MersenneField.sub(0, 1) == p - 1)
        #expect(MersenneField.mul(p - 1, p - 1) == 1)          // (−1)² = 1
        #expect(MersenneField.mul(1 << 126, 2) == 1)           // 2¹²⁷ ≡ 1
        #expect(MersenneField.mul(3, 5) == 15)
        for a: UInt128 in [1, 2, 7, 123_456_789, p - 2] { #expect(MersenneField.mul(a, MersenneField.inverse(a)) == 1) }
        #expect(MersenneField.reduce(p) == 0 && MersenneField.reduce(p + 5) == 5)
    }

    @Test("A degree-1 sharing by hand: f(x) = s + a·x, any 2 of 3 points give s back")
    func handComputed() throws {
        // s = 42 in every chunk's lowest byte (bytes 0, 15, 30), a = 7: f(1) = 49, f(2) = 56, f(3) = 63.
        func share(_ x: UInt32, _ y: UInt128) -> [UInt8] { Shamir.bytes(x) + Shamir.bytes(y) + Shamir.bytes(y) + Shamir.bytes(y) }
        var secret = [UInt8](repeating: 0, count: 32)
        secret[0] = 42; secret[15] = 42; secret[30] = 42
        #expect(try Shamir.combine([share(1, 49), share(3, 63)], threshold: 2) == secret)
        #expect(try Shamir.combine([share(2, 56), share(1, 49)], threshold: 2) == secret)
    }

    @Test("split/combine: every t-subset reconstructs; t − 1 shares fail; tampered or repeated shares are refused")
    func roundTrip() throws {
        let secret = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 255) }   // high bytes set: every chunk full
        let shares = Shamir.split(secret, threshold: 3, holders: [1, 2, 3, 4, 5])
        #expect(shares.allSatisfy { $0.count == Shamir.shareLength })
        for i in 0..<5 { for j in (i + 1)..<5 { for k in (j + 1)..<5 {
            #expect(try Shamir.combine([shares[i], shares[j], shares[k]], threshold: 3) == secret)
        } } }
        #expect(throws: SecAggError.self) { try Shamir.combine(Array(shares[0..<2]), threshold: 3) }
        #expect(throws: SecAggError.self) { try Shamir.combine([shares[0], shares[0], shares[1]], threshold: 3) }
        #expect(throws: SecAggError.self) { try Shamir.combine([Array(shares[0].dropLast()), shares[1], shares[2]], threshold: 3) }
        // Two shares of this secret and one of another do not combine to either.
        let other = Shamir.split([UInt8](repeating: 9, count: 32), threshold: 3, holders: [1, 2, 3])
        #expect((try? Shamir.combine([shares[0], shares[1], other[2]], threshold: 3)) != secret)
    }
}
