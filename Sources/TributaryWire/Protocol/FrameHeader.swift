/// The fixed 32-byte little-endian header that starts every frame of protocol v1:
///
/// ```
/// off size field
///  0   4   magic "TRIB"
///  4   2   version (1)
///  6   2   kind (MessageKind)
///  8   4   metadata length in bytes (JSON, small)
/// 12   4   reserved, must be 0
/// 16   8   payload length in bytes (raw little-endian tensor bytes)
/// 24   8   XXH3-64 of the payload (0 when there is none)
/// 32   …   metadata, zero padding to a multiple of 8, payload
/// ```
/// Metadata is JSON (small, readable, versioned by its kind); tensor bytes are never JSON.
/// Padding keeps the payload 8-byte aligned relative to the body start (nng bodies are only
/// 4-byte aligned in absolute terms, so readers use unaligned loads).
public struct FrameHeader: Sendable, Equatable {
    public static let size = 32
    public static let magic: UInt32 = 0x4249_5254  // "TRIB" read as little-endian
    public static let currentVersion: UInt16 = 1
    /// Metadata is a few hundred bytes in practice; a model spec for a large network can be
    /// tens of KiB. Anything above this is hostile.
    public static let maxMetadataLength = 4 << 20

    public var version: UInt16
    public var kind: UInt16
    public var metadataLength: UInt32
    public var payloadLength: UInt64
    public var payloadChecksum: UInt64

    public init(kind: MessageKind, metadataLength: Int, payloadLength: Int, payloadChecksum: UInt64) {
        self.version = Self.currentVersion
        self.kind = kind.rawValue
        self.metadataLength = UInt32(metadataLength)
        self.payloadLength = UInt64(payloadLength)
        self.payloadChecksum = payloadChecksum
    }

    /// Offset of the payload from the start of the frame.
    public static func payloadOffset(metadataLength: Int) -> Int {
        (size + metadataLength + 7) & ~7
    }

    func write(to body: UnsafeMutableRawBufferPointer) {
        body.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        body.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
        body.storeBytes(of: kind.littleEndian, toByteOffset: 6, as: UInt16.self)
        body.storeBytes(of: metadataLength.littleEndian, toByteOffset: 8, as: UInt32.self)
        body.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
        body.storeBytes(of: payloadLength.littleEndian, toByteOffset: 16, as: UInt64.self)
        body.storeBytes(of: payloadChecksum.littleEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// Reads and checks a header. Only the header's own fields are checked here; `Frame.decode`
    /// checks lengths against the body.
    static func read(from body: UnsafeRawBufferPointer) throws(WireError) -> FrameHeader {
        guard body.count >= size else { throw WireError(.malformed, "frame of \(body.count) bytes is shorter than the 32-byte header") }
        let magic = UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magic == Self.magic else { throw WireError(.malformed, "bad magic 0x\(String(magic, radix: 16))") }
        let version = UInt16(littleEndian: body.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard version == currentVersion else { throw WireError(.unsupportedVersion, "protocol version \(version) is not supported (this is v\(currentVersion))") }
        let reserved = UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard reserved == 0 else { throw WireError(.malformed, "reserved header field is not zero") }
        return FrameHeader(
            version: version,
            kind: UInt16(littleEndian: body.loadUnaligned(fromByteOffset: 6, as: UInt16.self)),
            metadataLength: UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
            payloadLength: UInt64(littleEndian: body.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            payloadChecksum: UInt64(littleEndian: body.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        )
    }

    private init(version: UInt16, kind: UInt16, metadataLength: UInt32, payloadLength: UInt64, payloadChecksum: UInt64) {
        self.version = version
        self.kind = kind
        self.metadataLength = metadataLength
        self.payloadLength = payloadLength
        self.payloadChecksum = payloadChecksum
    }
}
