import CXXHash

extension UpdateValidation {
    /// What one pass over a chunk found: its XXH3-64 and the first float tensor in it holding
    /// a NaN or ∞ (nil when every value is finite).
    public struct Ingested: Sendable {
        public var checksum: UInt64
        public var nonFiniteTensor: String?
    }

    /// Bytes handled per step: small enough that the hash, the finite check and the copy all
    /// read them from cache (L2 here is 512 KiB), so the chunk is read from memory once.
    static let ingestBlock = 128 << 10

    /// One pass over `chunk`, the flat bytes `offset ..< offset + chunk.count` of a model with
    /// `spec` (whole elements, as `ChunkPlan` cuts them): its XXH3-64 (streaming, so equal to
    /// `Checksum.xxh3(chunk)`), the finite check of every float value, and, given
    /// `destination`, a copy there. Where there were three passes over the bytes (the frame's
    /// checksum, `validateFinite`, the copy into staging) there is one.
    ///
    /// The whole chunk is always hashed, even past a non-finite value, so the caller can tell a
    /// corrupted chunk (checksum mismatch) from a hostile one.
    public static func ingest(_ chunk: UnsafeRawBufferPointer, at offset: Int, spec: ModelSpec, offsets: [Int],
                              copyTo destination: UnsafeMutableRawPointer? = nil) throws(ModelError) -> Ingested {
        let total = spec.totalBytes
        guard offset >= 0, offset <= total, chunk.count <= total - offset else {
            throw .malformed("chunk \(offset)..<\(offset + chunk.count) lies outside the model's \(total) bytes")
        }
        guard let base = chunk.baseAddress, !chunk.isEmpty else { return Ingested(checksum: 0, nonFiniteTensor: nil) }
        let state = XXH3_createState()!
        defer { XXH3_freeState(state) }
        XXH3_64bits_reset(state)
        var bad: String?
        let end = offset + chunk.count
        // The tensor holding `offset`: offsets are ascending, so a binary search finds it.
        var t = max(0, (offsets.firstIndex { $0 > offset } ?? offsets.count) - 1)
        while t < spec.tensors.count, offsets[t] < end {
            let tensor = spec.tensors[t]
            let lo = max(offsets[t], offset), hi = min(offsets[t] + tensor.byteCount, end)
            let size = tensor.dtype.size
            if hi > lo, tensor.dtype.isFloatingPoint, (lo - offsets[t]) % size != 0 || (hi - offsets[t]) % size != 0 {
                throw .malformed("chunk \(offset)..<\(end) splits an element of tensor '\(tensor.name)'")
            }
            var p = lo
            while p < hi {
                let n = min(ingestBlock, hi - p)  // a multiple of 8 until the segment's last block
                let block = base + (p - offset)
                XXH3_64bits_update(state, block, n)
                if bad == nil, tensor.dtype.isFloatingPoint {
                    let finite = tensor.dtype == .float32 ? allFinite(block, count: n / 4, as: Float.self) : allFinite(block, count: n / 8, as: Double.self)
                    if !finite { bad = tensor.name }
                }
                destination?.advanced(by: p - offset).copyMemory(from: block, byteCount: n)
                p += n
            }
            t += 1
        }
        return Ingested(checksum: XXH3_64bits_digest(state), nonFiniteTensor: bad)
    }
}
