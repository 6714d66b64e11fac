import Foundation
import Testing
import TributaryModel
@testable import TributaryWire

/// Small deterministic PRNG (SplitMix64) so test data and fuzz inputs are reproducible.
struct WireTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Bytes at a stable address that a decoded `Frame` may point into (the frame keeps this
/// object alive as its owner). `shift` moves the start off 8-byte alignment, as nng bodies are
/// only 4-byte aligned.
final class OwnedBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer
    let view: UnsafeRawBufferPointer

    init(_ bytes: [UInt8], shift: Int = 0) {
        storage = .allocate(byteCount: bytes.count + shift + 1, alignment: 16)
        let start = storage.baseAddress! + shift
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { start.copyMemory(from: base, byteCount: src.count) }
        }
        view = UnsafeRawBufferPointer(start: start, count: bytes.count)
    }

    deinit { storage.deallocate() }

    /// Decodes these bytes as a frame owned by this object.
    func decode(maxPayload: Int = Frame.defaultMaxPayload) throws(WireError) -> Frame {
        try Frame.decode(view, owner: self, maxPayload: maxPayload)
    }
}

/// Decodes a raw byte string as a frame (the frame owns a private copy).
func decodeFrame(_ bytes: [UInt8], shift: Int = 0, maxPayload: Int = Frame.defaultMaxPayload) throws(WireError) -> Frame {
    try OwnedBytes(bytes, shift: shift).decode(maxPayload: maxPayload)
}

/// A hand-built frame whose every header field can be set to anything, valid or not.
struct RawFrame {
    var magic: UInt32 = FrameHeader.magic
    var version: UInt16 = FrameHeader.currentVersion
    var kind: UInt16
    var reserved: UInt32 = 0
    var metadata: [UInt8]
    var payload: [UInt8] = []
    /// Overrides of the lengths and checksum written in the header (nil: the true values).
    var metadataLength: UInt32? = nil
    var payloadLength: UInt64? = nil
    var checksum: UInt64? = nil

    init(kind: MessageKind, json: String, payload: [UInt8] = []) {
        self.kind = kind.rawValue
        self.metadata = Array(json.utf8)
        self.payload = payload
    }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.appendLE(magic)
        out.appendLE(version)
        out.appendLE(kind)
        out.appendLE(metadataLength ?? UInt32(metadata.count))
        out.appendLE(reserved)
        out.appendLE(payloadLength ?? UInt64(payload.count))
        out.appendLE(checksum ?? (payload.isEmpty ? 0 : Checksum.xxh3(payload)))
        out += metadata
        if !payload.isEmpty {
            out += [UInt8](repeating: 0, count: FrameHeader.payloadOffset(metadataLength: metadata.count) - out.count)
            out += payload
        }
        return out
    }
}

/// Header field offsets of protocol v1.
enum HeaderField {
    static let magic = 0, version = 4, kind = 6, metadataLength = 8, reserved = 12, payloadLength = 16, checksum = 24
}

extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func patchLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { src in
            for (i, byte) in src.enumerated() where offset + i < count { self[offset + i] = byte }
        }
    }

    func readLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}

/// Runs `body` and checks that it throws a `WireError` with `code`; returns that error.
@discardableResult
func expectWireError<R>(
    _ code: WireError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) -> WireError? {
    do {
        let value = try body()
        Issue.record("expected WireError .\(code.rawValue), got a result: \(value)", sourceLocation: sourceLocation)
    } catch let error as WireError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected WireError .\(code.rawValue), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Async variant of `expectWireError`.
@discardableResult
func expectWireErrorAsync<R>(
    _ code: WireError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> R
) async -> WireError? {
    do {
        let value = try await body()
        Issue.record("expected WireError .\(code.rawValue), got a result: \(value)", sourceLocation: sourceLocation)
    } catch let error as WireError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected WireError .\(code.rawValue), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Models, orders and upload chunks for the transfer and collection tests.
enum WireFixtures {
    static let jobId = "job-7"
    static let sessionId = "session-1"
    static let round = 3

    /// A few hundred bytes of mixed float32/float64 tensors with odd sizes, so float64 values
    /// sit at offsets that are not multiples of 8 and 64-byte chunks get cut down to whole
    /// elements (chunks of 64, 64, 60, 64 and 8 bytes).
    static let mixedSpec = ModelSpec(tensors: [
        TensorSpec(name: "w", dtype: .float32, shape: [5, 7]),
        TensorSpec(name: "b", dtype: .float64, shape: [9]),
        TensorSpec(name: "s", dtype: .float32, shape: []),
        TensorSpec(name: "v", dtype: .float32, shape: [11]),
    ])

    /// float32 only (392 bytes).
    static let float32Spec = ModelSpec(tensors: [
        TensorSpec(name: "dense/kernel", dtype: .float32, shape: [13, 7]),
        TensorSpec(name: "dense/bias", dtype: .float32, shape: [7]),
    ])

    /// A model of `spec` with every float value drawn uniformly from `range`.
    static func model(_ spec: ModelSpec, seed: UInt64, range: ClosedRange<Double> = -1...1) throws -> Model {
        var rng = WireTestRNG(seed: seed)
        var model = try Model(zeros: spec)
        model.data.withUnsafeMutableBytes { raw in
            for (t, offset) in zip(spec.tensors, spec.offsets) {
                for i in 0..<t.count {
                    let v = Double.random(in: range, using: &rng)
                    if t.dtype == .float32 {
                        raw.storeBytes(of: Float(v), toByteOffset: offset + i * 4, as: Float.self)
                    } else {
                        raw.storeBytes(of: v, toByteOffset: offset + i * 8, as: Double.self)
                    }
                }
            }
        }
        return model
    }

    /// Every value of a float model as Double, in flat order.
    static func values(_ model: Model) -> [Double] {
        var out: [Double] = []
        model.data.withUnsafeBytes { raw in
            for (t, offset) in zip(model.spec.tensors, model.spec.offsets) {
                for i in 0..<t.count {
                    out.append(t.dtype == .float32 ? Double(raw.loadUnaligned(fromByteOffset: offset + i * 4, as: Float.self))
                                                   : raw.loadUnaligned(fromByteOffset: offset + i * 8, as: Double.self))
                }
            }
        }
        return out
    }

    /// Writes `value` into the `element`-th float of `model` (flat order over all tensors).
    static func set(_ model: inout Model, element: Int, to value: Double) {
        var index = element
        for (t, offset) in zip(model.spec.tensors, model.spec.offsets) {
            if index < t.count {
                model.data.withUnsafeMutableBytes { raw in
                    if t.dtype == .float32 {
                        raw.storeBytes(of: Float(value), toByteOffset: offset + index * 4, as: Float.self)
                    } else {
                        raw.storeBytes(of: value, toByteOffset: offset + index * 8, as: Double.self)
                    }
                }
                return
            }
            index -= t.count
        }
        preconditionFailure("element \(element) is outside the model")
    }

    static func order(
        kind: JobKind = .train, jobId: String = jobId, chunkSize: Int = 64, minClients: Int = 1, bufferSize: Int? = nil
    ) -> JobOrder {
        JobOrder(jobId: jobId, sessionId: sessionId, round: round, kind: kind, modelId: "model-1", chunkSize: chunkSize,
                 config: TrainingConfig(), timeoutSeconds: 60, minClients: minClients, bufferSize: bufferSize)
    }

    static func header(
        sender: String, model: Model, weight: Double, metrics: [String: Double] = [:], contributors: [String] = [],
        jobId: String = jobId, sessionId: String = sessionId, round: Int = round
    ) -> UploadChunk {
        UploadChunk(jobId: jobId, sessionId: sessionId, round: round, sender: sender, index: 0, chunkCount: 0, offset: 0,
                    totalBytes: model.spec.totalBytes, checksum: model.checksum, weight: weight, metrics: metrics,
                    contributors: contributors)
    }

    /// The chunks of an upload exactly as `ModelTransfer.upload` sends them: the checksum
    /// `header` got from `header(…)` (the model's) becomes the one combined from the chunks'
    /// own; a checksum a test set on purpose is kept.
    static func chunks(of model: Model, header: UploadChunk, chunkSize: Int) -> [(meta: UploadChunk, payload: [UInt8])] {
        let plan = ChunkPlan(spec: model.spec, chunkSize: chunkSize)
        let checksum = header.checksum == String(model.checksum, radix: 16)
            ? String(model.chunkChecksums(chunkSize: chunkSize).update, radix: 16) : header.checksum
        return plan.chunks.enumerated().map { index, range in
            var meta = header
            meta.checksum = checksum
            meta.index = index
            meta.chunkCount = plan.chunks.count
            meta.offset = range.lowerBound
            meta.totalBytes = model.spec.totalBytes
            return (meta, Array(model.data[range]))
        }
    }
}

extension JobCollector {
    /// Feeds one chunk (payload copied into a temporary buffer, like a frame's body).
    mutating func receive(_ chunk: (meta: UploadChunk, payload: [UInt8])) throws(WireError) -> UploadReceipt {
        let bytes = OwnedBytes(chunk.payload, shift: 4)
        return try receiveChunk(chunk.meta, payload: bytes.view)
    }

    /// Feeds all chunks in order; returns the last receipt.
    @discardableResult
    mutating func receiveAll(_ chunks: [(meta: UploadChunk, payload: [UInt8])]) throws(WireError) -> UploadReceipt {
        var last = UploadReceipt(status: .stored, chunksReceived: 0)
        for chunk in chunks { last = try receive(chunk) }
        return last
    }
}

/// Largest element-wise difference between two float models of the same spec, relative to
/// max(|a|, |b|, 1e-30).
func maxRelativeDifference(_ a: Model, _ b: Model) -> Double {
    precondition(a.spec == b.spec, "models of different layouts")
    return zip(WireFixtures.values(a), WireFixtures.values(b)).reduce(0.0) { worst, pair in
        max(worst, abs(pair.0 - pair.1) / max(abs(pair.0), abs(pair.1), 1e-30))
    }
}

/// Whether `model` is `expected` up to float32 rounding of the weighted sum and division.
func isClose(_ model: Model?, _ expected: Model?, tolerance: Double = 1e-6) -> Bool {
    guard let model, let expected else { return model == nil && expected == nil }
    return model.spec == expected.spec && maxRelativeDifference(model, expected) <= tolerance
}
