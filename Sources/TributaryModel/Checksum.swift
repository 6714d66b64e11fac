import CXXHash

/// 64-bit XXH3 checksums (libxxhash), fast enough to check every transfer at memory speed.
public enum Checksum {
    public static func xxh3(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    public static func xxh3(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { xxh3($0) }
    }
}

/// Streaming XXH3 over pieces that arrive one after another (chunks of an upload).
public final class StreamingChecksum {
    private let state: OpaquePointer

    public init() {
        state = XXH3_createState()!
        XXH3_64bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        XXH3_64bits_update(state, bytes.baseAddress, bytes.count)
    }

    public var value: UInt64 { XXH3_64bits_digest(state) }
}

extension Checksum {
    /// The checksum of an update sent in chunks, from its chunks' XXH3-64s: the chunk's own
    /// XXH3 when there is one chunk, else the XXH3-64 of the chunk checksums as little-endian
    /// UInt64s in chunk order. A receiver that checked every chunk (each frame carries its
    /// payload's XXH3) thus checks the whole update without hashing its bytes a second time.
    public static func combine(chunkChecksums: [UInt64]) -> UInt64 {
        if chunkChecksums.count == 1 { return chunkChecksums[0] }
        let littleEndian = chunkChecksums.map(\.littleEndian)
        return littleEndian.withUnsafeBytes { xxh3($0) }
    }
}

extension ChunkPlan {
    /// The XXH3-64 of each chunk of `data` (the flat bytes of a model with this plan's layout).
    public func checksums(of data: UnsafeRawBufferPointer) -> [UInt64] {
        chunks.map { range in range.isEmpty ? 0 : Checksum.xxh3(UnsafeRawBufferPointer(rebasing: data[range])) }
    }
}

extension Model {
    /// Each chunk's XXH3-64 under `chunkSize`'s plan and the update checksum combined from them
    /// (`Checksum.combine`): what an upload's header and frames carry.
    public func chunkChecksums(chunkSize: Int) -> (chunks: [UInt64], update: UInt64) {
        let chunks = data.withUnsafeBytes { ChunkPlan(spec: spec, chunkSize: chunkSize).checksums(of: $0) }
        return (chunks, Checksum.combine(chunkChecksums: chunks))
    }
}
