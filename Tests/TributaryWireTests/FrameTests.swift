import Foundation
import Testing
import TributaryModel
@testable import TributaryWire

@Suite("Frame encode/decode")
struct FrameTests {
    // MARK: Round trips

    /// Encodes, checks the layout of the encoded bytes, decodes three ways (from the nng
    /// message, from an 8-aligned copy, from a 4-aligned copy) and compares everything.
    private func roundTrip<M: Codable & Equatable>(
        _ kind: MessageKind, _ metadata: M, payload: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let message = try payload.withUnsafeBytes { try Frame.encode(kind, metadata, payload: $0) }
        let bytes = message.bytes
        // JSONEncoder's key order is not stable between calls: take the encoded metadata from
        // the frame and check that it is JSON of the same value.
        let metaLength = Int(bytes.readLE(UInt32.self, at: HeaderField.metadataLength))
        let meta = Data(bytes[32..<(32 + metaLength)])
        #expect(try JSONDecoder().decode(M.self, from: meta) == metadata, sourceLocation: sourceLocation)

        let header = try FrameHeader.read(from: UnsafeRawBufferPointer(message.body))
        #expect(header.kind == kind.rawValue, sourceLocation: sourceLocation)
        #expect(header.version == 1, sourceLocation: sourceLocation)
        #expect(Int(header.metadataLength) == meta.count, sourceLocation: sourceLocation)
        #expect(Int(header.payloadLength) == payload.count, sourceLocation: sourceLocation)
        #expect(header.payloadChecksum == (payload.isEmpty ? 0 : Checksum.xxh3(payload)), sourceLocation: sourceLocation)
        #expect(bytes.readLE(UInt32.self, at: HeaderField.magic) == 0x4249_5254, sourceLocation: sourceLocation)
        #expect(Array(bytes[0..<4]) == Array("TRIB".utf8), sourceLocation: sourceLocation)
        #expect(bytes.readLE(UInt32.self, at: HeaderField.reserved) == 0, sourceLocation: sourceLocation)

        if payload.isEmpty {
            #expect(bytes.count == 32 + meta.count, "no padding without a payload", sourceLocation: sourceLocation)
        } else {
            let offset = FrameHeader.payloadOffset(metadataLength: meta.count)
            #expect(offset % 8 == 0, sourceLocation: sourceLocation)
            #expect(offset - (32 + meta.count) < 8, sourceLocation: sourceLocation)
            #expect(bytes.count == offset + payload.count, sourceLocation: sourceLocation)
            #expect(bytes[(32 + meta.count)..<offset].allSatisfy { $0 == 0 }, "padding is zero", sourceLocation: sourceLocation)
            #expect(Array(bytes[offset...]) == payload, sourceLocation: sourceLocation)
        }

        func check(_ frame: Frame, base: UnsafeRawPointer?) throws {
            #expect(frame.kind == kind, sourceLocation: sourceLocation)
            #expect(frame.metadata == meta, sourceLocation: sourceLocation)
            #expect(try frame.decodeMetadata(M.self) == metadata, sourceLocation: sourceLocation)
            #expect(Array(frame.payload) == payload, sourceLocation: sourceLocation)
            if !payload.isEmpty, let base, let start = frame.payload.baseAddress {
                #expect((start - base) % 8 == 0, "payload is 8-aligned relative to the body", sourceLocation: sourceLocation)
            }
        }
        let fromMessage = try Frame.decode(message)
        try check(fromMessage, base: UnsafeRawPointer(message.body.baseAddress))
        for shift in [0, 4] {
            let owned = OwnedBytes(bytes, shift: shift)
            try check(try owned.decode(), base: owned.view.baseAddress)
        }
    }

    @Test func roundTripWithoutPayload() throws {
        try roundTrip(.ack, EmptyMeta())
        try roundTrip(.getModelInfo, GetModelInfoMeta(modelId: "m-1", chunkSize: 8 << 20))
        try roundTrip(.clientHeartbeat, ClientHeartbeatMeta(clientId: "site-a ünïcødé"))
        try roundTrip(.error, ErrorMeta(code: "busy", message: "retry"))
    }

    @Test func roundTripWithPayload() throws {
        var rng = WireTestRNG(seed: 11)
        // Payload sizes around the alignment boundary and metadata of varying length, so every
        // padding amount 0...7 occurs.
        for size in [1, 7, 8, 9, 63, 64, 1000, 4099] {
            for extra in 0..<8 {
                let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try roundTrip(.modelChunk, ModelChunkMeta(modelId: "m" + String(repeating: "x", count: extra), index: size, offset: extra), payload: payload)
            }
        }
        let model = try WireFixtures.model(WireFixtures.mixedSpec, seed: 3)
        let header = WireFixtures.header(sender: "site-a", model: model, weight: 42, metrics: ["train_loss": 0.25])
        try roundTrip(.submitUpdate, header, payload: model.data)
    }

    private func roundTrip<M: Codable & Equatable>(_ kind: MessageKind, _ metadata: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try roundTrip(kind, metadata, payload: [], sourceLocation: sourceLocation)
    }

    @Test func errorReplyCarriesCodeAndMessage() throws {
        let message = try #require(Frame.errorReply(WireError(.notSelected, "site-z is not selected")))
        let frame = try Frame.decode(message)
        #expect(frame.kind == .error)
        let reply = try frame.decodeMetadata(ErrorReply.self)
        #expect(reply.code == .notSelected)
        #expect(reply.message == "site-z is not selected")
    }

    @Test func handBuiltFrameDecodes() throws {
        let payload: [UInt8] = Array(0..<100)
        let frame = try decodeFrame(RawFrame(kind: .modelChunk, json: #"{"modelId":"m","index":2,"offset":64}"#, payload: payload).bytes)
        #expect(frame.kind == .modelChunk)
        #expect(Array(frame.payload) == payload)
        let meta = try frame.decodeMetadata(ModelChunk.self)
        #expect(meta.index == 2 && meta.offset == 64)
    }

    // MARK: Rejections

    private var valid: [UInt8] {
        RawFrame(kind: .modelChunk, json: #"{"modelId":"m","index":0,"offset":0}"#, payload: Array(repeating: 7, count: 40)).bytes
    }

    @Test func shorterThanHeaderIsMalformed() {
        for n in 0..<FrameHeader.size {
            expectWireError(.malformed) { try decodeFrame(Array(valid.prefix(n))) }
        }
    }

    @Test func everyTruncationIsRejected() {
        for bytes in [valid, RawFrame(kind: .ack, json: "{}").bytes, RawFrame(kind: .getModelInfo, json: #"{"modelId":"abc","chunkSize":64}"#).bytes] {
            #expect(throws: Never.self) { try decodeFrame(bytes) }
            for n in 0..<bytes.count {
                expectWireError(.malformed) { try decodeFrame(Array(bytes.prefix(n))) }
            }
        }
    }

    @Test func trailingBytesAreRejected() {
        for extra in 1...9 {
            expectWireError(.malformed) { try decodeFrame(valid + [UInt8](repeating: 0, count: extra)) }
            expectWireError(.malformed) { try decodeFrame(RawFrame(kind: .ack, json: "{}").bytes + [UInt8](repeating: 0, count: extra)) }
        }
    }

    @Test func wrongMagicIsMalformed() {
        for magic: UInt32 in [0, 0x5452_4942 /* "BIRT" */, 0x4249_5255, .max] {
            var raw = RawFrame(kind: .ack, json: "{}")
            raw.magic = magic
            expectWireError(.malformed) { try decodeFrame(raw.bytes) }
        }
    }

    @Test func otherVersionsAreUnsupported() {
        for version: UInt16 in [0, 2, 0x0100, .max] {
            var bytes = valid
            bytes.patchLE(version, at: HeaderField.version)
            let error = expectWireError(.unsupportedVersion) { try decodeFrame(bytes) }
            #expect(error?.message.contains("\(version)") == true)
        }
    }

    @Test func nonZeroReservedFieldIsMalformed() {
        for reserved: UInt32 in [1, 0x8000_0000, .max] {
            var raw = RawFrame(kind: .ack, json: "{}")
            raw.reserved = reserved
            expectWireError(.malformed) { try decodeFrame(raw.bytes) }
        }
    }

    @Test func unknownKindIsRejected() {
        // Every unassigned value in the used range, and far beyond it.
        let known = Set(MessageKind.allCases.map(\.rawValue))
        let unknown = (UInt16(0)...(known.max()! + 16)).filter { !known.contains($0) } + [999, 0x8000, .max]
        #expect(unknown.count > 40)
        for kind in unknown {
            var bytes = valid
            bytes.patchLE(kind, at: HeaderField.kind)
            expectWireError(.unknownKind) { try decodeFrame(bytes) }
        }
    }

    @Test func oversizedMetadataLengthIsTooLargeWithoutAllocating() {
        // The body is only the 32-byte header: if the decoder trusted the claimed length it
        // would read far past the end; it must refuse on the number alone.
        for length: UInt32 in [UInt32(FrameHeader.maxMetadataLength) + 1, 1 << 31, .max] {
            var raw = RawFrame(kind: .ack, json: "")
            raw.metadataLength = length
            expectWireError(.tooLarge) { try decodeFrame(raw.bytes) }
        }
    }

    @Test func oversizedPayloadLengthIsTooLargeWithoutAllocating() {
        for length: UInt64 in [UInt64(Frame.defaultMaxPayload) + 1, UInt64(Int.max), UInt64(Int.max) + 1, .max] {
            var raw = RawFrame(kind: .modelChunk, json: "{}")
            raw.payloadLength = length
            expectWireError(.tooLarge) { try decodeFrame(raw.bytes) }
        }
    }

    @Test func payloadOverExplicitLimitIsTooLarge() throws {
        let json = #"{"modelId":"m","index":0,"offset":0}"#
        let atLimit = RawFrame(kind: .modelChunk, json: json, payload: Array(repeating: 1, count: 100)).bytes
        let overLimit = RawFrame(kind: .modelChunk, json: json, payload: Array(repeating: 1, count: 101)).bytes
        #expect(try decodeFrame(atLimit, maxPayload: 100).payload.count == 100)
        expectWireError(.tooLarge) { try decodeFrame(overLimit, maxPayload: 100) }
    }

    /// Regression: `payloadOffset + payloadLength` once overflowed and trapped when a caller
    /// passed a `maxPayload` near `Int.max` and the header claimed a payload of that size.
    /// Runs in a child process (exit test), so a trap fails this test instead of the run.
    @Test
    func hugeMaxPayloadNeverTraps() async {
        await #expect(processExitsWith: .success) {
            var raw = RawFrame(kind: .modelChunk, json: "{}")
            raw.payloadLength = UInt64(Int.max)
            _ = try? decodeFrame(raw.bytes, maxPayload: .max)
            raw.payloadLength = UInt64(Int.max - 20)
            _ = try? decodeFrame(raw.bytes, maxPayload: .max)
        }
    }

    @Test func lengthsThatDisagreeWithTheBodyAreMalformed() {
        let json = #"{"modelId":"m","index":0,"offset":0}"#   // 36 bytes: payload at 72 after 4 bytes of padding
        let payload = [UInt8](repeating: 9, count: 40)
        func variant(_ edit: (inout RawFrame) -> Void) -> [UInt8] {
            var raw = RawFrame(kind: .modelChunk, json: json, payload: payload)
            edit(&raw)
            return raw.bytes
        }
        let cases: [[UInt8]] = [
            variant { $0.payloadLength = 39 },
            variant { $0.payloadLength = 41 },
            variant { $0.payloadLength = 0 },                       // payload present but not declared
            variant { $0.metadataLength = 41 },                     // pushes the payload offset to 80
            variant { $0.metadataLength = 200 },
            variant { $0.metadataLength = UInt32(FrameHeader.maxMetadataLength) },
            variant { $0.payloadLength = UInt64(Frame.defaultMaxPayload) },
            variant { $0.metadataLength = 0; $0.payloadLength = 0 },
            variant { $0.metadata = []; $0.payloadLength = 41 },
        ]
        for bytes in cases {
            expectWireError(.malformed) { try decodeFrame(bytes) }
        }
        // Without a payload there is no padding, so padding bytes count as trailing garbage.
        var noPayload = RawFrame(kind: .getModelInfo, json: #"{"modelId":"m","chunkSize":64}"#).bytes
        noPayload += [0, 0, 0]
        expectWireError(.malformed) { try decodeFrame(noPayload) }
    }

    @Test func corruptedPayloadFailsItsChecksum() throws {
        let bytes = valid
        let payloadStart = bytes.count - 40
        for index in [payloadStart, payloadStart + 17, bytes.count - 1] {
            for bit in [0, 3, 7] {
                var corrupted = bytes
                corrupted[index] ^= UInt8(1 << bit)
                expectWireError(.checksumMismatch) { try decodeFrame(corrupted) }
            }
        }
        var wrongSum = bytes
        wrongSum.patchLE(bytes.readLE(UInt64.self, at: HeaderField.checksum) ^ 1, at: HeaderField.checksum)
        expectWireError(.checksumMismatch) { try decodeFrame(wrongSum) }

        var emptyWithSum = RawFrame(kind: .ack, json: "{}")
        emptyWithSum.checksum = 1
        expectWireError(.checksumMismatch) { try decodeFrame(emptyWithSum.bytes) }
    }

    @Test func corruptedEncodedMessageFailsItsChecksum() throws {
        let payload = [UInt8](repeating: 0x5A, count: 300)
        let message = try payload.withUnsafeBytes { try Frame.encode(.modelChunk, ModelChunk(modelId: "m", index: 0, offset: 0), payload: $0) }
        message.body[message.count - 123] ^= 0x10
        expectWireError(.checksumMismatch) { try Frame.decode(message) }
    }

    // MARK: Metadata

    @Test func badJSONMetadataIsMalformed() throws {
        for json in ["{", "", "not json", #"{"modelId":"m","chunkSize":64"#, "\u{FF}"] {
            let frame = try decodeFrame(RawFrame(kind: .getModelInfo, json: json).bytes)
            let error = expectWireError(.malformed) { try frame.decodeMetadata(GetModelInfo.self) }
            #expect(error?.message.contains("getModelInfo") == true, "names the kind: \(String(describing: error))")
        }
    }

    @Test func metadataOfTheWrongShapeIsMalformedAndNamesTheField() throws {
        let missing = try decodeFrame(RawFrame(kind: .getModelInfo, json: #"{"modelId":"m"}"#).bytes)
        let e1 = expectWireError(.malformed) { try missing.decodeMetadata(GetModelInfo.self) }
        #expect(e1?.message.contains("chunkSize") == true, "\(String(describing: e1))")

        let wrongType = try decodeFrame(RawFrame(kind: .getModelInfo, json: #"{"modelId":"m","chunkSize":"big"}"#).bytes)
        let e2 = expectWireError(.malformed) { try wrongType.decodeMetadata(GetModelInfo.self) }
        #expect(e2?.message.contains("chunkSize") == true, "\(String(describing: e2))")

        let nullValue = try decodeFrame(RawFrame(kind: .getModelChunk, json: #"{"modelId":"m","chunkSize":64,"index":null}"#).bytes)
        let e3 = expectWireError(.malformed) { try nullValue.decodeMetadata(GetModelChunk.self) }
        #expect(e3?.message.contains("index") == true, "\(String(describing: e3))")

        let nested = try decodeFrame(RawFrame(kind: .submitUpdate, json: #"""
            {"jobId":"j","sessionId":"s","round":1,"sender":"a","index":0,"chunkCount":1,"offset":0,"totalBytes":4,
             "checksum":"0","weight":1,"metrics":{"loss":"low"},"contributors":[]}
            """#).bytes)
        let e4 = expectWireError(.malformed) { try nested.decodeMetadata(UploadChunk.self) }
        #expect(e4?.message.contains("metrics") == true, "\(String(describing: e4))")

        let array = try decodeFrame(RawFrame(kind: .clientHeartbeat, json: "[1,2,3]").bytes)
        expectWireError(.malformed) { try array.decodeMetadata(ClientHeartbeat.self) }

        let enumValue = try decodeFrame(RawFrame(kind: .error, json: #"{"code":"teapot","message":"x"}"#).bytes)
        expectWireError(.malformed) { try enumValue.decodeMetadata(ErrorReply.self) }
    }
}

// Equatable mirrors of protocol metadata, so round trips compare whole values.
private struct EmptyMeta: Codable, Equatable {}
private struct GetModelInfoMeta: Codable, Equatable { var modelId: String; var chunkSize: Int }
private struct ClientHeartbeatMeta: Codable, Equatable { var clientId: String }
private struct ErrorMeta: Codable, Equatable { var code: String; var message: String }
private struct ModelChunkMeta: Codable, Equatable { var modelId: String; var index: Int; var offset: Int }
