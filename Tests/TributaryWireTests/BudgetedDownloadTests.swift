import Foundation
import Synchronization
import Testing
import TributaryModel
@testable import TributaryWire

/// The most bytes a download budget ever counted at once.
private final class PeakBytes: Sendable {
    private let most = Mutex(0)
    func note(_ bytes: Int) { most.withLock { $0 = max($0, bytes) } }
    var value: Int { most.withLock { $0 } }
}

/// How many times something happened at a server.
private final class Receipts: Sendable {
    private let count = Mutex(0)
    func note() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// Serves `served` under `id` as a combiner does: chunk requests that name a requester count
/// against `budget` when `FlowControl` says they do (waiting for room in its gate), and
/// `modelReceived` releases. `peak` records the most bytes ever counted at once.
private func budgetedHandler(id: String, served: ServedModel, checksum: UInt64, budget: DownloadBudget,
                             peak: PeakBytes, receipts: Receipts = Receipts()) -> @Sendable (Frame) async throws -> Message {
    { frame in
        switch frame.kind {
        case .getModelInfo:
            let request = try frame.decodeMetadata(GetModelInfo.self)
            return try ModelTransfer.infoReply(modelId: id, spec: served.spec, chunkSize: request.chunkSize, checksum: checksum)
        case .getModelChunk:
            let request = try frame.decodeMetadata(GetModelChunk.self)
            let requester = try #require(request.requester)
            if let bytes = FlowControl.countedChunkBytes(chunkSize: request.chunkSize, totalBytes: served.spec.totalBytes) {
                try await budget.room.admit(patience: .seconds(5)) { try budget.acquire(requester, bytes: bytes) }
            }
            peak.note(budget.outstandingBytes)
            return try ModelTransfer.chunkReply(request, served: served)
        case .modelReceived:
            receipts.note()
            budget.release(try frame.decodeMetadata(ModelReceived.self).requester)
            return try Frame.encode(.ack, Empty())
        default:
            throw WireError(.unexpectedKind, "this server does not serve \(frame.kind)")
        }
    }
}

@Suite("Downloads through a download budget", .timeLimit(.minutes(1)))
struct BudgetedDownloadTests {
    static let chunkSize = ModelTransferTests.chunkSize

    private static func spool(_ model: Model) throws -> (SpooledModel, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
        return (try SpooledModel(model, directory: directory), directory)
    }

    /// Four clients fetch a 16-chunk model at once from a server whose download budget is one
    /// chunk, served from a spooled file: each gets the model bit for bit, never more than one
    /// chunk is counted as on its way, and the receipts leave nothing counted.
    @Test func concurrentDownloadsShareAOneChunkBudget() async throws {
        let model = try ModelTransferTests.bigModel()
        let (spooled, directory) = try Self.spool(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(!FileManager.default.fileExists(atPath: spooled.path), "a spooled model's file is unlinked once written")
        let budget = DownloadBudget(limit: Self.chunkSize)
        let peak = PeakBytes()
        let receipts = Receipts()
        let server = try FrameServer(concurrency: 8, handler: budgetedHandler(id: "g", served: .spooled(spooled), checksum: model.checksum,
                                                                              budget: budget, peak: peak, receipts: receipts))
        let peers = try (0..<4).map { _ in try PeerConnection(url: server.url) }
        let downloaded = try await withThrowingTaskGroup(of: Model.self) { group in
            for (i, peer) in peers.enumerated() {
                group.addTask {
                    try await ModelTransfer.download(modelId: "g", chunkSize: Self.chunkSize, from: peer, timeout: .seconds(20), requester: "client-\(i)")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for peer in peers { peer.close() }
        await server.stop()
        #expect(downloaded.count == 4)
        #expect(downloaded.allSatisfy { $0 == model })
        #expect(peak.value <= Self.chunkSize)
        #expect(budget.outstandingBytes == 0)
        #expect(receipts.value == 4)
    }

    /// A model of a few KB is neither counted nor confirmed: many clients fetch it at once
    /// through a budget that would otherwise let one through at a time.
    @Test func smallModelsAreNotCounted() async throws {
        let model = try WireFixtures.model(WireFixtures.mixedSpec, seed: 5)
        #expect(model.spec.totalBytes < FlowControl.smallBytes)
        #expect(FlowControl.countedChunkBytes(chunkSize: Self.chunkSize, totalBytes: model.spec.totalBytes) == nil)
        let budget = DownloadBudget(limit: 1)
        let peak = PeakBytes()
        let receipts = Receipts()
        let downloaded = try await withFrameServer(budgetedHandler(id: "m", served: .memory(model), checksum: model.checksum,
                                                                   budget: budget, peak: peak, receipts: receipts)) { peer in
            try await ModelTransfer.download(modelId: "m", chunkSize: Self.chunkSize, from: peer, timeout: .seconds(20), requester: "client-1")
        }
        #expect(downloaded == model)
        #expect(peak.value == 0)
        #expect(receipts.value == 0)
    }

    /// A chunk request refused as `rate_limited` (a client over its per-second request limit)
    /// is retried like `busy`, not the end of the download.
    @Test func rateLimitedChunkRequestsAreRetried() async throws {
        let model = try ModelTransferTests.bigModel()
        let refusals = Receipts()
        let downloaded = try await withFrameServer({ frame in
            switch frame.kind {
            case .getModelInfo:
                return try ModelTransfer.infoReply(modelId: "g", spec: model.spec, chunkSize: Self.chunkSize, checksum: model.checksum)
            case .getModelChunk:
                if refusals.value < 3 {
                    refusals.note()
                    throw WireError(.rateLimited, "rate limit exceeded; retry")
                }
                return try ModelTransfer.chunkReply(try frame.decodeMetadata(GetModelChunk.self), model: model)
            default:
                return try Frame.encode(.ack, Empty())
            }
        }) { peer in
            try await ModelTransfer.download(modelId: "g", chunkSize: Self.chunkSize, from: peer, timeout: .seconds(20), requester: "client-1")
        }
        #expect(downloaded == model)
        #expect(refusals.value == 3)
    }

    @Test func countedBytesAreTheChunkCutToTheModel() {
        #expect(FlowControl.countedChunkBytes(chunkSize: 8 << 20, totalBytes: 4_000_000) == 4_000_000)
        #expect(FlowControl.countedChunkBytes(chunkSize: 1 << 20, totalBytes: 4_000_000) == 1 << 20)
        #expect(FlowControl.countedChunkBytes(chunkSize: 8 << 20, totalBytes: 40_000) == nil)
        #expect(FlowControl.countedChunkBytes(chunkSize: 4096, totalBytes: 4_000_000) == nil)
        #expect(FlowControl.reservesUploadSlot(totalBytes: 4_000_000))
        #expect(!FlowControl.reservesUploadSlot(totalBytes: 40_000))
    }

    @Test func chunkRepliesFromASpooledFileEqualThoseFromMemory() throws {
        let model = try ModelTransferTests.bigModel()
        let (spooled, directory) = try Self.spool(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        for index in [0, 7, 15] {
            let request = GetModelChunk(modelId: "g", chunkSize: Self.chunkSize, index: index)
            let fromMemory = try Frame.decode(try ModelTransfer.chunkReply(request, model: model))
            let fromFile = try Frame.decode(try ModelTransfer.chunkReply(request, served: .spooled(spooled)))
            #expect(Array(fromFile.payload) == Array(fromMemory.payload))
            #expect(fromFile.payloadChecksum == fromMemory.payloadChecksum)
        }
    }
}
