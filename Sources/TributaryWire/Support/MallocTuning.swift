#if canImport(Glibc)
import Glibc
#endif

/// How a combiner asks glibc's malloc to treat model-sized buffers.
///
/// nng allocates every received message with `malloc`, and so do chunk replies and staging
/// buffers. glibc serves large allocations with their own `mmap` only until the first such
/// block is freed: then its dynamic threshold rises to that block's size (up to 32 MiB), later
/// chunk-sized buffers come from per-thread arenas, and freed ones stay resident in whichever
/// arena they came from. A fixed threshold turns that off. Measured in one session
/// (scripts/bench.sh, N = 10, 2 combiners): combiner (peak RSS − idle) ÷ model 14.4 → 3.5 at
/// P = 1e6 and 4.7 → 2.4 at P = 1e7. The price is fresh pages (faults, zeroing) for every
/// message, so only the combiner, whose memory has a budget, sets it;
/// `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` (set by the scripts) keeps those faults cheaper
/// (notes/nng.md §5.1).
public enum MallocTuning {
    /// Allocations of at least `threshold` bytes get their own mapping, returned on `free`.
    /// An operator's own `glibc.malloc.mmap_threshold` in `GLIBC_TUNABLES` wins.
    public static func mapLargeAllocations(threshold: Int = 1 << 20) {
        #if canImport(Glibc)
        if let tunables = getenv("GLIBC_TUNABLES"), String(cString: tunables).contains("glibc.malloc.mmap_threshold") { return }
        _ = glibcMallopt(mmapThreshold, Int32(clamping: threshold))
        #endif
    }

    /// `M_MMAP_THRESHOLD` of glibc's <malloc.h>, which the Glibc module does not export.
    private static let mmapThreshold: Int32 = -3
}

#if canImport(Glibc)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
