import Foundation
import Testing
import TributaryModel
@testable import TributaryWire

/// Several multi-chunk uploads staged at once, as far as the staging budget allows: their
/// chunks interleave, each is assembled on its own, and the aggregate is the one the same
/// updates give one after another.
@Suite("Parallel multi-chunk uploads")
struct ParallelUploadTests {
    static let chunkSize = 64
    static let senders = ["a", "b", "c", "d"]

    let models: [String: Model]

    init() throws {
        var models: [String: Model] = [:]
        for (i, s) in Self.senders.enumerated() { models[s] = try WireFixtures.model(WireFixtures.mixedSpec, seed: UInt64(40 + i)) }
        self.models = models
    }

    private func chunks(_ sender: String, weight: Double = 10) -> [(meta: UploadChunk, payload: [UInt8])] {
        let model = models[sender]!
        return WireFixtures.chunks(of: model, header: WireFixtures.header(sender: sender, model: model, weight: weight), chunkSize: Self.chunkSize)
    }

    private func collector(staging uploads: Int) throws -> JobCollector {
        try JobCollector(order: WireFixtures.order(chunkSize: Self.chunkSize), spec: WireFixtures.mixedSpec, selected: Set(Self.senders),
                         maxStagingBytes: uploads * WireFixtures.mixedSpec.totalBytes)
    }

    @Test func uploadsInterleaveUpToTheBudgetAndTheFourthWaits() throws {
        var c = try collector(staging: 3)
        let uploads = ["a", "b", "c"].map { chunks($0) }
        #expect(uploads[0].count == 5)
        // Chunk i of a, b and c, then chunk i + 1 of each: three uploads open at once.
        for i in 0..<4 {
            for u in uploads { #expect(try c.receive(u[i]).status == .stored) }
        }
        // A fourth upload finds no staging room: busy, nothing of it kept.
        expectWireError(.busy) { _ = try c.receive(chunks("d")[0]) }
        for u in uploads { #expect(try c.receive(u[4]).status == .accepted) }
        // Room again: d goes through now.
        try c.receiveAll(chunks("d"))
        let parallel = c.close()
        #expect(parallel.accepted == ["a", "b", "c", "d"])

        var sequential = try collector(staging: 1)
        for s in Self.senders { try sequential.receiveAll(chunks(s)) }
        #expect(parallel.model == sequential.close().model)
    }

    @Test func chunksInAnyOrderAndRepeatsAssembleTheSameUpdate() throws {
        var c = try collector(staging: 2)
        let a = chunks("a"), b = chunks("b")
        for i in [4, 0, 2] { _ = try c.receive(a[i]) }
        for i in [1, 3, 0] { _ = try c.receive(b[i]) }
        _ = try c.receive(a[0])  // a repeat (the reply was lost) changes nothing
        for i in [1, 3] { _ = try c.receive(a[i]) }
        for i in [2, 4] { _ = try c.receive(b[i]) }
        let result = c.close()
        #expect(result.accepted == ["a", "b"])

        var reference = try collector(staging: 1)
        try reference.receiveAll(a)
        try reference.receiveAll(b)
        #expect(result.model == reference.close().model)
    }

    @Test func aCorruptChunkOfOneUploadLeavesTheOthersIntact() throws {
        var c = try collector(staging: 2)
        let a = chunks("a"), b = chunks("b")
        _ = try c.receive(a[0])
        _ = try c.receive(b[0])
        // b's chunk 1 is damaged in transit: its frame checksum no longer matches.
        var damaged = b[1].payload
        damaged[3] ^= 0x40
        let claimed = Checksum.xxh3(b[1].payload)
        let bytes = OwnedBytes(damaged, shift: 4)
        expectWireError(.checksumMismatch) { _ = try c.receiveChunk(b[1].meta, payload: bytes.view, claimedChecksum: claimed) }
        for chunk in a.dropFirst() { _ = try c.receive(chunk) }
        // b resends the chunk and finishes.
        for chunk in b.dropFirst() { _ = try c.receive(chunk) }
        #expect(c.close().accepted == ["a", "b"])
    }
}
