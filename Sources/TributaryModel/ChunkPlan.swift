/// How a model's flat bytes are cut into chunks for transfer.
///
/// The flat range `[0, totalBytes)` is split into consecutive, gap-free ranges of at most
/// `chunkSize` bytes. A cut that would fall inside an element is moved *down* to the start of
/// that element (in the tensor containing the cut), so every chunk holds whole elements and can
/// be validated (`UpdateValidation.validateFinite`) and aggregated on arrival on its own:
///
///     end₀ = min(start + chunkSize, totalBytes)
///     end  = off_t + ⌊(end₀ − off_t) / size_t⌋ · size_t    for the tensor t containing byte end₀
///
/// Elements are at most 8 bytes and chunks at least 64, so each chunk is non-empty. An empty
/// model has exactly one chunk `0..<0` (a transfer always has at least one chunk on the wire).
///
/// The plan is a pure function of `(spec, chunkSize)`: sender and receiver compute it
/// independently and agree, so chunk `i` needs no offset on the wire beyond its index.
public struct ChunkPlan: Sendable, Equatable {
    /// Default chunk size on the wire. nng's receive path is fastest at ≤ 16 MiB messages
    /// (larger ones are served by fresh `mmap`s and page-fault); 4–16 MiB is the useful range.
    public static let defaultChunkSize = 8 << 20
    public static let minChunkSize = 4 << 20
    public static let maxChunkSize = 16 << 20
    /// The smallest size the plan accepts (tests use small chunks); smaller requests are raised to it.
    public static let smallestAllowedChunkSize = 64

    /// The chunk size actually used: `max(requested, smallestAllowedChunkSize)`.
    public let chunkSize: Int
    public let chunks: [Range<Int>]

    public init(spec: ModelSpec, chunkSize: Int) {
        let size = max(chunkSize, Self.smallestAllowedChunkSize)
        self.chunkSize = size
        let total = spec.totalBytes
        guard total > 0 else {
            chunks = [0..<0]
            return
        }
        let offsets = spec.offsets
        var result: [Range<Int>] = []
        result.reserveCapacity(total / size + 1)
        var start = 0
        var t = 0
        while start < total {
            var end = total - start > size ? start + size : total
            if end < total {
                // Advance to the tensor containing byte `end` (cuts only move forward, so t does too).
                while offsets[t] + spec.tensors[t].byteCount <= end { t += 1 }
                let elem = spec.tensors[t].dtype.size
                end = offsets[t] + (end - offsets[t]) / elem * elem
            }
            result.append(start..<end)
            start = end
        }
        chunks = result
    }

    public var count: Int { chunks.count }

    /// Index of the chunk containing flat byte `offset`, or nil if out of range.
    public func chunkIndex(containing offset: Int) -> Int? {
        var lo = 0
        var hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunks[mid].upperBound <= offset { lo = mid + 1 } else { hi = mid }
        }
        return lo < chunks.count && chunks[lo].contains(offset) ? lo : nil
    }
}
