import Foundation
import TributaryModel

/// One decoded protocol frame: its kind, JSON metadata and a zero-copy view of its payload.
///
/// A frame decoded from a `Message` keeps that message alive, and `payload` points into the
/// message body: read it while the frame is alive, never store the pointer.
public struct Frame: @unchecked Sendable {
    public let kind: MessageKind
    public let metadata: Data
    public let payload: UnsafeRawBufferPointer
    /// The XXH3-64 the header claims for `payload`. `decode` has checked it, except for the
    /// upload kinds (`MessageKind.checksInIngest`), whose receiver checks it in the same pass
    /// that validates and stages the bytes (`UploadAssembler`).
    public let payloadChecksum: UInt64
    /// Keeps the memory behind `payload` alive.
    private let owner: AnyObject?

    /// Largest payload accepted by default: a 16 MiB chunk. Receivers set the nng receive-size
    /// limit to `FrameLimits.receiveMaxSize`, so larger messages never arrive at all.
    public static let defaultMaxPayload = 16 << 20

    /// Decodes and checks a frame: header, lengths (exact, no trailing bytes), kind, and the
    /// payload checksum. Throws a `WireError` that can be sent back as an error reply.
    public static func decode(_ message: Message, maxPayload: Int = defaultMaxPayload) throws(WireError) -> Frame {
        try decode(UnsafeRawBufferPointer(message.body), owner: message, maxPayload: maxPayload)
    }

    /// Decodes from raw bytes that `owner` keeps alive (tests and fuzzing use `[UInt8]` boxes).
    public static func decode(_ body: UnsafeRawBufferPointer, owner: AnyObject?, maxPayload: Int = defaultMaxPayload) throws(WireError) -> Frame {
        let header = try FrameHeader.read(from: body)
        guard let kind = MessageKind(rawValue: header.kind) else {
            throw WireError(.unknownKind, "unknown message kind \(header.kind)")
        }
        let metadataLength = Int(header.metadataLength)
        guard metadataLength <= FrameHeader.maxMetadataLength else {
            throw WireError(.tooLarge, "metadata of \(metadataLength) bytes exceeds \(FrameHeader.maxMetadataLength)")
        }
        guard header.payloadLength <= UInt64(maxPayload) else {
            throw WireError(.tooLarge, "payload of \(header.payloadLength) bytes exceeds \(maxPayload)")
        }
        let payloadOffset = header.payloadLength == 0 ? FrameHeader.size + metadataLength : FrameHeader.payloadOffset(metadataLength: metadataLength)
        // Compared without adding, so no claimed length can overflow.
        guard payloadOffset <= body.count, header.payloadLength == UInt64(body.count - payloadOffset) else {
            throw WireError(.malformed, "frame is \(body.count) bytes but its header describes \(payloadOffset) + \(header.payloadLength)")
        }
        let payloadLength = Int(header.payloadLength)
        let payload = UnsafeRawBufferPointer(rebasing: body[payloadOffset..<(payloadOffset + payloadLength)])
        if !kind.checksInIngest {
            let checksum = payloadLength == 0 ? 0 : Checksum.xxh3(payload)
            guard checksum == header.payloadChecksum else {
                throw WireError(.checksumMismatch, "payload checksum mismatch")
            }
        }
        let metadata = Data(UnsafeRawBufferPointer(rebasing: body[FrameHeader.size..<(FrameHeader.size + metadataLength)]))
        return Frame(kind: kind, metadata: metadata, payload: payload, payloadChecksum: header.payloadChecksum, owner: owner)
    }

    /// Decodes the JSON metadata as `T`; a decoding failure is a `.malformed` wire error.
    public func decodeMetadata<T: Decodable>(_ type: T.Type) throws(WireError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: metadata)
        } catch {
            throw WireError(.malformed, "bad \(kind) metadata: \(Self.describe(error))")
        }
    }

    /// The sender's peer token, carried as the metadata's `auth` field (every message kind's
    /// metadata is a JSON object, and decoders ignore fields they do not know).
    public var auth: String? {
        (try? JSONDecoder().decode(AuthField.self, from: metadata))?.auth
    }

    private struct AuthField: Decodable { var auth: String? }

    /// Encodes a frame into a new nng message: header, metadata (with `auth`, the sender's
    /// peer token, when given), padding, payload (one copy of the payload, straight into the
    /// message body). `payloadChecksum` is the payload's XXH3-64 when the caller already has
    /// it (a served model's chunks, an upload's), so the bytes are not hashed once per message.
    public static func encode<M: Encodable>(
        _ kind: MessageKind, _ metadata: M, payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), auth: String? = nil,
        payloadChecksum: UInt64? = nil
    ) throws -> Message {
        try encode(kind, metadata, payloadCount: payload.count, auth: auth, checksum: { payloadChecksum ?? Checksum.xxh3($0) }) { body in
            if !payload.isEmpty { body.baseAddress!.copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
        }
    }

    /// `encode` with a payload of `payloadCount` bytes that `fill` writes straight into the
    /// message body (a model chunk read from a file: no buffer in between); `checksum` is then
    /// given the written payload (return a known value, or hash it).
    public static func encode<M: Encodable>(
        _ kind: MessageKind, _ metadata: M, payloadCount: Int, auth: String? = nil,
        checksum: (UnsafeRawBufferPointer) -> UInt64, fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws -> Message {
        var meta = try JSONEncoder().encode(metadata)
        if let auth, meta.first == UInt8(ascii: "{") {
            // A JWT is base64url segments and dots: nothing to escape in a JSON string.
            guard auth.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw WireError(.malformed, "a peer token must be a JWT (base64url and dots)")
            }
            meta = Data("{\"auth\":\"\(auth)\"".utf8) + (meta.count > 2 ? Data(",".utf8) : Data()) + meta.dropFirst()
        }
        let payloadOffset = payloadCount == 0 ? FrameHeader.size + meta.count : FrameHeader.payloadOffset(metadataLength: meta.count)
        let message = try Message(capacity: payloadOffset + payloadCount)
        let body = message.body
        let payload = UnsafeMutableRawBufferPointer(rebasing: body[payloadOffset..<(payloadOffset + payloadCount)])
        if payloadCount > 0 { try fill(payload) }
        let sum = payloadCount == 0 ? 0 : checksum(UnsafeRawBufferPointer(payload))
        FrameHeader(kind: kind, metadataLength: meta.count, payloadLength: payloadCount, payloadChecksum: sum).write(to: body)
        meta.withUnsafeBytes { body.baseAddress!.advanced(by: FrameHeader.size).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let padStart = FrameHeader.size + meta.count
        if payloadOffset > padStart {
            body.baseAddress!.advanced(by: padStart).initializeMemory(as: UInt8.self, repeating: 0, count: payloadOffset - padStart)
        }
        return message
    }

    /// An error reply carrying `error`'s code and message.
    public static func errorReply(_ error: WireError) -> Message? {
        try? encode(.error, ErrorReply(code: error.code, message: error.message))
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            "wrong type at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let ctx): "invalid JSON (\(ctx.debugDescription))"
        default: "\(error)"
        }
    }

    private init(kind: MessageKind, metadata: Data, payload: UnsafeRawBufferPointer, payloadChecksum: UInt64, owner: AnyObject?) {
        self.kind = kind
        self.metadata = metadata
        self.payload = payload
        self.payloadChecksum = payloadChecksum
        self.owner = owner
    }
}

/// Metadata of an `.error` reply.
public struct ErrorReply: Codable, Sendable {
    public var code: WireError.Code
    public var message: String
}

/// Metadata of frames that need none.
public struct Empty: Codable, Sendable {
    public init() {}
}

/// Sizes every endpoint agrees on.
public enum FrameLimits {
    /// The nng receive-size limit on every socket: the largest chunk plus header, metadata and
    /// slack. Anything larger is dropped by nng before it is allocated in full.
    public static let receiveMaxSize = Frame.defaultMaxPayload + FrameHeader.maxMetadataLength + 4096
}
