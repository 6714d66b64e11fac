import Crypto
import CryptoExtras
import Foundation

/// The masking PRG: AES-256-CTR keyed by the whole 32-byte seed, counter block starting at 0
/// (a 16-byte big-endian counter), run over zero bytes; mask element j is the little-endian
/// u32 at byte 4j of that keystream, reduced mod the modulus. Flower seeds NumPy's RandomState
/// with a 32-bit fold of its seed (2³² possible masks); this one has the seed's full 256 bits.
///
/// Python: `Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor().update(bytes(4 * n))`.
public enum MaskGenerator {
    /// Bytes of keystream made per call into BoringSSL (bounds the scratch memory).
    static let block = 1 << 20

    /// `mask(seed)[offset..<offset + count]`, added to (`sign` 1) or subtracted from (`sign` −1)
    /// `vector[offset..<offset + count]` with wrap-around (the caller reduces mod the modulus).
    public static func apply(seed: [UInt8], sign: Int, to vector: inout [UInt32], offset: Int = 0, count: Int? = nil) throws(SecAggError) {
        precondition(seed.count == 32 && (sign == 1 || sign == -1))
        let total = count ?? vector.count - offset
        let key = SymmetricKey(data: seed)
        let zeros = [UInt8](repeating: 0, count: block)
        var done = 0
        while done < total {
            let words = min(block / 4, total - done)
            // The counter of the block at keystream byte 4·done (every 16 bytes is one AES block).
            var counter = [UInt8](repeating: 0, count: 16)
            var blockIndex = UInt64(4 * done / 16)
            for i in stride(from: 15, through: 8, by: -1) { counter[i] = UInt8(truncatingIfNeeded: blockIndex); blockIndex >>= 8 }
            let stream: Data
            do {
                stream = try AES._CTR.encrypt(zeros[0..<(4 * words)], using: key, nonce: try AES._CTR.Nonce(nonceBytes: counter))
            } catch {
                throw SecAggError(.failed, "the mask generator failed: \(error)")
            }
            stream.withUnsafeBytes { raw in
                for j in 0..<words {
                    let word = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))
                    let index = offset + done + j
                    vector[index] = sign == 1 ? vector[index] &+ word : vector[index] &- word
                }
            }
            done += words
        }
    }

    /// The first `count` mask elements of `seed` (for tests and small vectors).
    public static func mask(seed: [UInt8], count: Int) throws(SecAggError) -> [UInt32] {
        var vector = [UInt32](repeating: 0, count: count)
        try apply(seed: seed, sign: 1, to: &vector)
        return vector
    }
}
