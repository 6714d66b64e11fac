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
