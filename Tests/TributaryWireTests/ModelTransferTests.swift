import Foundation
import Testing
import TributaryModel
@testable import TributaryWire

/// How a model server misbehaves.
private enum Fault: Sendable {
    case none
    /// Flips a payload byte of one chunk after encoding (the frame checksum no longer matches).
    case corruptChunk(Int)
    /// Flips a payload byte of one chunk and rewrites the frame checksum to match, so only the
    /// whole-model checksum can notice.
    case corruptChunkAndFrameChecksum(Int)
    /// Reports a wrong whole-model checksum in `ModelInfo`.
    case wrongInfoChecksum
}

/// Serves `model` under `id` the way the combiner and controller handlers do.
private func modelHandler(id: String, model: Model, fault: Fault = .none) -> @Sendable (Frame) async throws -> Message {
    { frame in
        switch frame.kind {
        case .getModelInfo:
            let request = try frame.decodeMetadata(GetModelInfo.self)
            guard request.modelId == id else { throw WireError(.notFound, "no model \(request.modelId)") }
            var checksum = model.checksum
            if case .wrongInfoChecksum = fault { checksum ^= 0x8000 }
            return try ModelTransfer.infoReply(modelId: id, spec: model.spec, chunkSize: request.chunkSize, checksum: checksum)
        case .getModelChunk:
            let request = try frame.decodeMetadata(GetModelChunk.self)
            guard request.modelId == id else { throw WireError(.notFound, "no model \(request.modelId)") }
            let reply = try ModelTransfer.chunkReply(request, model: model)
            switch fault {
            case .corruptChunk(let index) where index == request.index:
                reply.body[reply.count - 1] ^= 0x01
            case .corruptChunkAndFrameChecksum(let index) where index == request.index:
                let decoded = try Frame.decode(reply)
                let start = decoded.payload.baseAddress! - UnsafeRawPointer(reply.body.baseAddress!)
                reply.body[start + 100] ^= 0x01
                let checksum = Checksum.xxh3(UnsafeRawBufferPointer(rebasing: reply.body[start...]))
                reply.body.storeBytes(of: checksum.littleEndian, toByteOffset: HeaderField.checksum, as: UInt64.self)
            default:
                break
            }
            return reply
        default:
            throw WireError(.unexpectedKind, "this server does not serve \(frame.kind)")
        }
    }
}

/// Feeds upload chunks into a JobCollector, optionally answering `.busy` to the first requests.
private actor CollectorEndpoint {
    private var collector: JobCollector
    private var busyAnswersLeft: Int
    private(set) var requests = 0
    private(set) var busyAnswers = 0

    init(collector: sending JobCollector, busyFirst: Int = 0) {
        self.collector = collector
        self.busyAnswersLeft = busyFirst
    }

    func handle(_ frame: Frame) throws -> Message {
        requests += 1
        guard frame.kind == .submitUpdate else { throw WireError(.unexpectedKind, "expected an update, got \(frame.kind)") }
        if busyAnswersLeft > 0 {
            busyAnswersLeft -= 1
            busyAnswers += 1
            throw WireError(.busy, "no upload slot free; retry")
        }
        let meta = try frame.decodeMetadata(UploadChunk.self)
        do {
            let receipt = try collector.receiveChunk(meta, payload: frame.payload)
            return try Frame.encode(.uploadReceipt, receipt)
        } catch let error as WireError where error.code == .busy {
            busyAnswers += 1
            throw error
        }
    }

    /// Feeds a chunk directly (another sender, not over the network).
    func feed(_ chunk: (meta: UploadChunk, payload: [UInt8])) throws -> UploadReceipt {
        try collector.receive(chunk)
    }

    func close() -> (model: Model?, weight: Double, accepted: [String]) {
        let result = collector.close()
        return (result.model, result.weight, result.accepted)
    }
}

@Suite("Model transfer over nng", .timeLimit(.minutes(1)))
struct ModelTransferTests {
    static let chunkSize = 64 * 1024

    /// ~1 MiB of float32 (262,143 values) in two tensors: 16 chunks of 64 KiB.
    static func bigModel() throws -> Model {
        var rng = WireTestRNG(seed: 1234)
        let kernel = (0..<(512 * 511)).map { _ in Float.random(in: -1...1, using: &rng) }
        let bias = (0..<511).map { _ in Float.random(in: -1...1, using: &rng) }
        return try Model(float32: [(name: "dense/kernel", shape: [512, 511], values: kernel), (name: "dense/bias", shape: [511], values: bias)])
    }

    @Test func downloadReturnsAnEqualModel() async throws {
        let model = try Self.bigModel()
        #expect(ChunkPlan(spec: model.spec, chunkSize: Self.chunkSize).count == 16)
        let downloaded = try await withFrameServer(modelHandler(id: "global-1", model: model)) { peer in
            try await ModelTransfer.download(modelId: "global-1", chunkSize: Self.chunkSize, from: peer, timeout: .seconds(20))
        }
        #expect(downloaded == model)
    }

    @Test func downloadOfSmallMixedModelWithTinyChunks() async throws {
        let model = try WireFixtures.model(WireFixtures.mixedSpec, seed: 77)
        let downloaded = try await withFrameServer(modelHandler(id: "m", model: model)) { peer in
            try await ModelTransfer.download(modelId: "m", chunkSize: 64, from: peer, timeout: .seconds(20))
        }
        #expect(downloaded == model)
    }

    @Test func corruptedChunkFailsTheFrameChecksum() async throws {
        let model = try Self.bigModel()
        try await withFrameServer(modelHandler(id: "g", model: model, fault: .corruptChunk(5))) { peer in
            await expectWireErrorAsync(.checksumMismatch) {
                try await ModelTransfer.download(modelId: "g", chunkSize: Self.chunkSize, from: peer, timeout: .seconds(20))
            }
        }
    }

    @Test func corruptedChunkWithRepairedFrameChecksumFailsTheModelChecksum() async throws {
        let model = try Self.bigModel()
        try await withFrameServer(modelHandler(id: "g", model: model, fault: .corruptChunkAndFrameChecksum(9))) { peer in
            let error = await expectWireErrorAsync(.checksumMismatch) {
                try await ModelTransfer.download(modelId: "g", chunkSize: Self.chunkSize, from: peer, timeout: .seconds(20))
            }
            #expect(error?.message.contains("failed its checksum") == true, "\(String(describing: error))")
        }
    }

    @Test func wrongChecksumInModelInfoFailsTheDownload() async throws {
        let model = try Self.bigModel()
        try await withFrameServer(modelHandler(id: "g", model: model, fault: .wrongInfoChecksum)) { peer in
            let error = await expectWireErrorAsync(.checksumMismatch) {
                try await ModelTransfer.download(modelId: "g", chunkSize: Self.chunkSize, from: peer, timeout: .seconds(20))
            }
            #expect(error?.message.contains("failed its checksum") == true, "\(String(describing: error))")
        }
    }

    @Test func errorReplyIsThrownByCall() async throws {
        try await withFrameServer({ _ in throw WireError(.notFound, "no model named 'ghost'") }) { peer in
            let error = await expectWireErrorAsync(.notFound) {
                try await peer.call(.getModelInfo, GetModelInfo(modelId: "ghost", chunkSize: 64), expecting: .modelInfo, timeout: .seconds(10))
            }
            #expect(error == WireError(.notFound, "no model named 'ghost'"))
            // The same through download.
            await expectWireErrorAsync(.notFound) {
                try await ModelTransfer.download(modelId: "ghost", chunkSize: 64, from: peer, timeout: .seconds(10))
            }
        }
    }

    @Test func replyOfTheWrongKindIsUnexpected() async throws {
        try await withFrameServer({ _ in try Frame.encode(.ack, Empty()) }) { peer in
            await expectWireErrorAsync(.unexpectedKind) {
                try await peer.call(.getModelInfo, GetModelInfo(modelId: "m", chunkSize: 64), expecting: .modelInfo, timeout: .seconds(10))
            }
        }
    }

    @Test func unknownModelIsNotFound() async throws {
        let model = try WireFixtures.model(WireFixtures.mixedSpec, seed: 1)
        try await withFrameServer(modelHandler(id: "m", model: model)) { peer in
            await expectWireErrorAsync(.notFound) {
                try await ModelTransfer.download(modelId: "other", chunkSize: 64, from: peer, timeout: .seconds(10))
            }
        }
    }

    // MARK: Upload

    private func uploadHeader(_ model: Model, sender: String = "site-a", weight: Double = 17) -> UploadChunk {
        WireFixtures.header(sender: sender, model: model, weight: weight, metrics: ["train_loss": 0.4])
    }

    @Test func multiChunkUploadIsAcceptedAndAveraged() async throws {
        let update = try WireFixtures.model(WireFixtures.mixedSpec, seed: 55)
        let chunkSize = 64
        let chunkCount = ChunkPlan(spec: update.spec, chunkSize: chunkSize).count
        #expect(chunkCount == 5)
        let collector = try JobCollector(order: WireFixtures.order(chunkSize: chunkSize), spec: update.spec, selected: ["site-a"], maxStagingBytes: 1 << 20)
        let endpoint = CollectorEndpoint(collector: collector)
        let receipt = try await withFrameServer({ try await endpoint.handle($0) }) { peer in
            try await ModelTransfer.upload(update, kind: .submitUpdate, header: uploadHeader(update), chunkSize: chunkSize, to: peer,
                                           timeout: .seconds(10), deadline: .now + .seconds(30))
        }
        #expect(receipt.status == .accepted)
        #expect(receipt.chunksReceived == chunkCount)
        #expect(await endpoint.requests == chunkCount)
        let result = await endpoint.close()
        #expect(isClose(result.model, update), "one update of weight 17 averages to itself")
        #expect(result.weight == 17)
        #expect(result.accepted == ["site-a"])
    }

    @Test func bigUploadIsAccepted() async throws {
        let update = try Self.bigModel()
        let collector = try JobCollector(order: WireFixtures.order(chunkSize: Self.chunkSize), spec: update.spec, selected: ["site-a"], maxStagingBytes: 4 << 20)
        let endpoint = CollectorEndpoint(collector: collector)
        let receipt = try await withFrameServer({ try await endpoint.handle($0) }) { peer in
            try await ModelTransfer.upload(update, kind: .submitUpdate, header: uploadHeader(update, weight: 1), chunkSize: Self.chunkSize, to: peer,
                                           timeout: .seconds(20), deadline: .now + .seconds(30))
        }
        #expect(receipt.status == .accepted && receipt.chunksReceived == 16)
        #expect(await endpoint.close().model == update)
    }

    @Test func busyTwiceThenAcceptedSucceeds() async throws {
        let update = try WireFixtures.model(WireFixtures.mixedSpec, seed: 56)
        let collector = try JobCollector(order: WireFixtures.order(chunkSize: 64), spec: update.spec, selected: ["site-a"], maxStagingBytes: 1 << 20)
        let endpoint = CollectorEndpoint(collector: collector, busyFirst: 2)
        let receipt = try await withFrameServer({ try await endpoint.handle($0) }) { peer in
            try await ModelTransfer.upload(update, kind: .submitUpdate, header: uploadHeader(update), chunkSize: 64, to: peer,
                                           timeout: .seconds(10), deadline: .now + .seconds(30))
        }
        #expect(receipt.status == .accepted)
        #expect(await endpoint.busyAnswers == 2)
        #expect(await endpoint.requests == 5 + 2)
        #expect(isClose(await endpoint.close().model, update))
    }

    @Test func busyUntilAnotherUploadFinishesThenSucceeds() async throws {
        // Real back-pressure: the collector has staging room for one upload, held by another
        // sender; the network upload is answered `.busy` until that upload completes.
        let update = try WireFixtures.model(WireFixtures.mixedSpec, seed: 57)
        let other = try WireFixtures.model(WireFixtures.mixedSpec, seed: 58)
        let collector = try JobCollector(order: WireFixtures.order(chunkSize: 64), spec: update.spec, selected: ["site-a", "site-b"],
                                         maxStagingBytes: update.spec.totalBytes)
        let endpoint = CollectorEndpoint(collector: collector)
        let otherChunks = WireFixtures.chunks(of: other, header: uploadHeader(other, sender: "site-b", weight: 3), chunkSize: 64)
        #expect(try await endpoint.feed(otherChunks[0]).status == .stored)

        let receipt = try await withFrameServer({ try await endpoint.handle($0) }) { peer in
            async let upload = ModelTransfer.upload(update, kind: .submitUpdate, header: uploadHeader(update, weight: 1), chunkSize: 64, to: peer,
                                                    timeout: .seconds(10), deadline: .now + .seconds(30))
            while await endpoint.busyAnswers == 0 { try await Task.sleep(for: .milliseconds(5)) }
            for chunk in otherChunks.dropFirst() { _ = try await endpoint.feed(chunk) }
            return try await upload
        }
        #expect(receipt.status == .accepted)
        let result = await endpoint.close()
        #expect(Set(result.accepted) == ["site-a", "site-b"])
        #expect(result.weight == 4)
        var reference = try FedAvgAccumulator(spec: update.spec)
        try reference.add(other, weight: 3)
        try reference.add(update, weight: 1)
        #expect(result.model == (try reference.average()))
    }

    @Test func busyPastTheDeadlineIsThrown() async throws {
        let update = try WireFixtures.model(WireFixtures.mixedSpec, seed: 59)
        let collector = try JobCollector(order: WireFixtures.order(chunkSize: 64), spec: update.spec, selected: ["site-a"], maxStagingBytes: 1 << 20)
        let endpoint = CollectorEndpoint(collector: collector, busyFirst: .max)
        try await withFrameServer({ try await endpoint.handle($0) }) { peer in
            await expectWireErrorAsync(.busy) {
                try await ModelTransfer.upload(update, kind: .submitUpdate, header: uploadHeader(update), chunkSize: 64, to: peer,
                                               timeout: .seconds(10), deadline: .now)
            }
        }
        #expect(await endpoint.requests == 1)
    }

    @Test func rejectedUploadIsNotRetried() async throws {
        let update = try WireFixtures.model(WireFixtures.mixedSpec, seed: 60)
        let collector = try JobCollector(order: WireFixtures.order(chunkSize: 64), spec: update.spec, selected: ["site-a"], maxStagingBytes: 1 << 20)
        let endpoint = CollectorEndpoint(collector: collector)
        var header = uploadHeader(update)
        header.jobId = "job-from-last-week"
        try await withFrameServer({ try await endpoint.handle($0) }) { peer in
            await expectWireErrorAsync(.unknownJob) {
                try await ModelTransfer.upload(update, kind: .submitUpdate, header: header, chunkSize: 64, to: peer,
                                               timeout: .seconds(10), deadline: .now + .seconds(30))
            }
        }
        #expect(await endpoint.requests == 1)
        #expect(await endpoint.close().accepted.isEmpty)
    }
}
