import Foundation
import Testing
import TributaryModel
@testable import TributaryWire

/// Bounded, seeded fuzzing of `Frame.decode` and `decodeMetadata`: every input either decodes
/// to a self-consistent frame or throws a `WireError`, and never crashes.
@Suite("Frame fuzzing")
struct FrameFuzzTests {
    static let iterations = 20_000

    /// Valid frames to mutate: several kinds, with and without payload.
    private static func seeds() throws -> [[UInt8]] {
        let model = try WireFixtures.model(WireFixtures.mixedSpec, seed: 5)
        let header = WireFixtures.header(sender: "site-a", model: model, weight: 12, metrics: ["train_loss": 0.5], contributors: ["x"])
        var frames: [[UInt8]] = []
        frames.append(try Frame.encode(.ack, Empty()).bytes)
        frames.append(try Frame.encode(.getModelInfo, GetModelInfo(modelId: "model-1", chunkSize: 64)).bytes)
        frames.append(try Frame.encode(.getModelChunk, GetModelChunk(modelId: "model-1", chunkSize: 64, index: 2)).bytes)
        frames.append(try Frame.encode(.clientHeartbeat, ClientHeartbeat(clientId: "site-b")).bytes)
        frames.append(try Frame.encode(.error, ErrorReply(code: .busy, message: "retry")).bytes)
        frames.append(try Frame.encode(.uploadReceipt, UploadReceipt(status: .stored, chunksReceived: 3)).bytes)
        frames.append(try model.data.withUnsafeBytes { try Frame.encode(.submitUpdate, header, payload: $0) }.bytes)
        frames.append(try model.data.withUnsafeBytes {
            try Frame.encode(.modelChunk, ModelChunk(modelId: "model-1", index: 1, offset: 64), payload: UnsafeRawBufferPointer(rebasing: $0[64..<128]))
        }.bytes)
        frames.append(try [UInt8]([42]).withUnsafeBytes { try Frame.encode(.modelChunk, ModelChunk(modelId: "m", index: 0, offset: 0), payload: $0) }.bytes)
        return frames
    }

    /// Values that stress length and field checks.
    private static let interesting32: [UInt32] = [0, 1, 7, 8, 31, 32, 33, 255, 4 << 20, (4 << 20) + 1, 1 << 31, .max - 7, .max]
    private static let interesting64: [UInt64] = [
        0, 1, 7, 8, 63, 64, 16 << 20, (16 << 20) + 1, UInt64(Int32.max), UInt64(Int.max) - 31, UInt64(Int.max), UInt64(Int.max) + 1, .max - 7, .max,
    ]

    private static func mutate(_ seed: [UInt8], _ rng: inout WireTestRNG) -> [UInt8] {
        var bytes = seed
        let steps = Int.random(in: 1...3, using: &rng)
        for _ in 0..<steps {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:  // bit flips anywhere
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                }
            case 1:  // byte overwrites
                for _ in 0..<Int.random(in: 1...8, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 2:  // truncation
                bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
            case 3:  // extension
                bytes += (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 4:  // metadata length rewrite
                let value = Bool.random(using: &rng) ? interesting32.randomElement(using: &rng)! : UInt32.random(in: 0...600, using: &rng)
                bytes.patchLE(value, at: HeaderField.metadataLength)
            case 5:  // payload length rewrite, including huge ones
                let value = Bool.random(using: &rng) ? interesting64.randomElement(using: &rng)! : UInt64.random(in: 0...600, using: &rng)
                bytes.patchLE(value, at: HeaderField.payloadLength)
            case 6:  // kind, version, reserved, magic
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes.patchLE(UInt16.random(in: 0...60, using: &rng), at: HeaderField.kind)
                case 1: bytes.patchLE(UInt16.random(in: 0...3, using: &rng), at: HeaderField.version)
                case 2: bytes.patchLE(UInt32.random(in: 0...1, using: &rng), at: HeaderField.reserved)
                default: bytes.patchLE(UInt32.random(in: 0...UInt32.max, using: &rng), at: HeaderField.magic)
                }
            case 7:  // mutate inside the metadata JSON (a frame that still passes the header checks)
                guard bytes.count > 40 else { continue }
                let metaLength = Int(bytes.readLE(UInt32.self, at: HeaderField.metadataLength))
                let end = min(bytes.count, 32 + min(metaLength, bytes.count))
                guard end > 32 else { continue }
                let i = Int.random(in: 32..<end, using: &rng)
                let replacements = Array(#"{}[]",:0123456789-.eE"nulltruefalse\ "#.utf8) + [0, 0xFF, 0xC3]
                bytes[i] = replacements.randomElement(using: &rng)!
            case 8:  // repair the checksum so payload mutations get past it
                let length = bytes.count >= 32 ? bytes.readLE(UInt64.self, at: HeaderField.payloadLength) : 0
                if length > 0, length <= UInt64(bytes.count) {
                    let payload = Array(bytes.suffix(Int(length)))
                    bytes.patchLE(Checksum.xxh3(payload), at: HeaderField.checksum)
                }
            default:  // splice a slice of the frame somewhere else
                guard bytes.count > 2 else { continue }
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                let b = Int.random(in: a...min(bytes.count, a + 16), using: &rng)
                let slice = bytes[a..<b]
                bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &rng))
            }
        }
        return bytes
    }

    private struct Tally {
        var decoded = 0
        var metadataDecoded = 0
        var errors: [WireError.Code: Int] = [:]
    }

    /// Checks a decoded frame against its own bytes.
    private static func checkConsistent(_ frame: Frame, bytes: OwnedBytes, _ tally: inout Tally) {
        let body = bytes.view
        let metaLength = Int(UInt32(littleEndian: body.loadUnaligned(fromByteOffset: HeaderField.metadataLength, as: UInt32.self)))
        let payloadLength = UInt64(littleEndian: body.loadUnaligned(fromByteOffset: HeaderField.payloadLength, as: UInt64.self))
        #expect(frame.metadata.count == metaLength)
        #expect(UInt64(frame.payload.count) == payloadLength)
        #expect(MessageKind(rawValue: UInt16(littleEndian: body.loadUnaligned(fromByteOffset: HeaderField.kind, as: UInt16.self))) == frame.kind)
        if frame.payload.isEmpty {
            #expect(body.count == 32 + metaLength)
        } else {
            let start = frame.payload.baseAddress! - body.baseAddress!
            #expect(start == FrameHeader.payloadOffset(metadataLength: metaLength))
            #expect(start % 8 == 0)
            #expect(start + frame.payload.count == body.count)
            let claimed = UInt64(littleEndian: body.loadUnaligned(fromByteOffset: HeaderField.checksum, as: UInt64.self))
            #expect(frame.payloadChecksum == claimed)
            // Upload chunks are checked by their receiver's assembler, every other kind here.
            if !frame.kind.checksInIngest { #expect(Checksum.xxh3(frame.payload) == claimed) }
        }
        #expect(Array(frame.metadata) == Array(body[32..<(32 + metaLength)]))
        tally.decoded += 1

        // Metadata decoding of several message types: a value or `.malformed`, nothing else.
        func attempt<T: Decodable>(_ type: T.Type) {
            do {
                _ = try frame.decodeMetadata(type)
                tally.metadataDecoded += 1
            } catch {
                #expect(error.code == .malformed, "\(error)")
            }
        }
        attempt(UploadChunk.self)
        attempt(GetModelChunk.self)
        attempt(ErrorReply.self)
        attempt(ModelInfo.self)
    }

    private static func run(_ input: [UInt8], _ tally: inout Tally) {
        let owned = OwnedBytes(input, shift: input.count % 2 == 0 ? 4 : 0)
        do {
            let frame = try owned.decode()
            checkConsistent(frame, bytes: owned, &tally)
        } catch {
            tally.errors[error.code, default: 0] += 1
        }
    }

    @Test func randomAndMutatedFramesNeverCrash() throws {
        let seeds = try Self.seeds()
        for seed in seeds { #expect(throws: Never.self) { try decodeFrame(seed) } }
        var rng = WireTestRNG(seed: 0x7121_B07A)
        var tally = Tally()
        for i in 0..<Self.iterations {
            let input: [UInt8]
            switch i % 8 {
            case 0:  // pure noise
                input = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:  // noise behind a valid magic and version
                var bytes = (0..<Int.random(in: 8...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                bytes.patchLE(FrameHeader.magic, at: 0)
                bytes.patchLE(FrameHeader.currentVersion, at: 4)
                input = bytes
            default:
                input = Self.mutate(seeds.randomElement(using: &rng)!, &rng)
            }
            Self.run(input, &tally)
        }
        // The fuzzer itself must reach past the header checks, into every kind of rejection.
        #expect(tally.decoded > 100, "decoded \(tally.decoded)")
        #expect(tally.metadataDecoded > 0)
        for code: WireError.Code in [.malformed, .unsupportedVersion, .unknownKind, .tooLarge, .checksumMismatch] {
            #expect(tally.errors[code, default: 0] > 0, "no \(code) error in \(tally.errors)")
        }
        let expectedCodes: Set<WireError.Code> = [.malformed, .unsupportedVersion, .unknownKind, .tooLarge, .checksumMismatch]
        #expect(Set(tally.errors.keys).isSubset(of: expectedCodes), "\(tally.errors)")
    }

    @Test func tinyMaxPayloadLimitsHold() throws {
        // Same mutations under a small payload limit: nothing larger than the limit decodes.
        let seeds = try Self.seeds()
        var rng = WireTestRNG(seed: 99)
        for _ in 0..<2_000 {
            let input = Self.mutate(seeds.randomElement(using: &rng)!, &rng)
            let owned = OwnedBytes(input)
            if let frame = try? owned.decode(maxPayload: 32) {
                #expect(frame.payload.count <= 32)
            }
        }
    }
}
