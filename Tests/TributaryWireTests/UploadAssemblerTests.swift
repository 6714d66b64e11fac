import Foundation
import Testing
import TributaryModel
@testable import TributaryWire

@Suite("Upload assembler")
struct UploadAssemblerTests {
    typealias Chunk = (meta: UploadChunk, payload: [UInt8])

    static let chunkSize = 64
    let model: Model
    let chunks: [Chunk]

    init() throws {
        model = try WireFixtures.model(WireFixtures.mixedSpec, seed: 21)
        chunks = WireFixtures.chunks(of: model, header: WireFixtures.header(sender: "a", model: model, weight: 10), chunkSize: Self.chunkSize)
    }

    private func assembler(maxStagingBytes: Int = 1 << 20) -> UploadAssembler {
        UploadAssembler(spec: WireFixtures.mixedSpec, chunkSize: Self.chunkSize, maxStagingBytes: maxStagingBytes)
    }

    /// Feeds one chunk; `.complete` updates are copied out while their bytes are valid.
    private enum Fed: Equatable {
        case stored(Int)
        case complete(UploadChunk, [UInt8])
    }

    private func feed(_ a: inout UploadAssembler, _ chunk: Chunk, now: ContinuousClock.Instant = .now) throws(WireError) -> Fed {
        let bytes = OwnedBytes(chunk.payload, shift: 4)
        switch try a.receive(chunk.meta, payload: bytes.view, now: now) {
        case .stored(let count): return .stored(count)
        case .complete(let complete): return .complete(complete.meta, Array(complete.bytes))
        }
    }

    private func sender(_ chunk: Chunk, _ name: String) -> Chunk {
        var meta = chunk.meta
        meta.sender = name
        return (meta, chunk.payload)
    }

    @Test func planOfTheFixture() {
        #expect(model.spec.totalBytes == 260)
        #expect(chunks.map(\.payload.count) == [64, 64, 60, 64, 8])
        #expect(chunks.allSatisfy { $0.meta.chunkCount == 5 })
    }

    @Test func singleChunkUpdateIsZeroCopy() throws {
        var a = UploadAssembler(spec: WireFixtures.mixedSpec, chunkSize: 4096, maxStagingBytes: 0)
        let single = WireFixtures.chunks(of: model, header: WireFixtures.header(sender: "a", model: model, weight: 3), chunkSize: 4096)
        #expect(single.count == 1)
        let bytes = OwnedBytes(single[0].payload, shift: 4)
        guard case .complete(let complete) = try a.receive(single[0].meta, payload: bytes.view) else {
            Issue.record("a single-chunk update must complete at once")
            return
        }
        #expect(complete.bytes.baseAddress == bytes.view.baseAddress, "the update is a view of the payload, not a copy")
        #expect(complete.bytes.count == model.spec.totalBytes)
        #expect(complete.staging == nil)
        #expect(Array(complete.bytes) == model.data)
        #expect(complete.meta == single[0].meta)
        #expect(a.openUploads == 0 && a.stagedBytes == 0)
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5])
    func multiChunkCompletesOnlyAfterAllChunksInAnyOrder(seed: UInt64) throws {
        var rng = WireTestRNG(seed: seed)
        var order = seed == 0 ? Array(chunks.indices) : (seed == 1 ? chunks.indices.reversed() : chunks.indices.shuffled(using: &rng))
        // Duplicates (retries) of already-sent chunks, anywhere before the last new chunk.
        for _ in 0..<3 {
            let at = Int.random(in: 1..<order.count, using: &rng)
            order.insert(order[Int.random(in: 0..<at, using: &rng)], at: at)
        }
        var a = assembler()
        var seen = Set<Int>()
        for (step, index) in order.enumerated() {
            seen.insert(index)
            let outcome = try feed(&a, chunks[index])
            if step < order.count - 1 {
                #expect(outcome == .stored(seen.count), "step \(step): chunk \(index)")
                #expect(a.openUploads == 1)
                #expect(a.stagedBytes == model.spec.totalBytes)
            } else {
                #expect(seen.count == chunks.count)
                guard case .complete(let meta, let bytes) = outcome else {
                    Issue.record("the last chunk must complete the upload, got \(outcome)")
                    return
                }
                #expect(bytes == model.data)
                #expect(meta.sender == "a" && meta.weight == 10)
                #expect(a.openUploads == 0 && a.stagedBytes == 0)
            }
        }
    }

    @Test func completedMultiChunkUpdateIsStagedNotAView() throws {
        var a = assembler()
        for chunk in chunks.dropLast() { _ = try feed(&a, chunk) }
        let last = OwnedBytes(chunks.last!.payload)
        guard case .complete(let complete) = try a.receive(chunks.last!.meta, payload: last.view) else {
            Issue.record("expected completion")
            return
        }
        #expect(complete.staging != nil)
        #expect(complete.bytes.baseAddress != last.view.baseAddress)
        // Staging is an array (so it can become the sum without a copy): 16-byte aligned, which
        // the kernels' unaligned loads do not need but float64 values like.
        #expect(Int(bitPattern: complete.bytes.baseAddress) % 16 == 0)
        #expect(Array(complete.bytes) == model.data)
    }

    @Test func duplicateChunkKeepsTheFirstCopy() throws {
        var a = assembler()
        _ = try feed(&a, chunks[0])
        var tampered = chunks[0]
        tampered.payload = [UInt8](repeating: 0xEE, count: tampered.payload.count)
        #expect(try feed(&a, tampered) == .stored(1), "a retried chunk is idempotent")
        var outcome = Fed.stored(0)
        for chunk in chunks.dropFirst() { outcome = try feed(&a, chunk) }
        #expect(outcome == .complete(chunks[0].meta, model.data))
    }

    @Test func chunksThatDoNotFitTheLayoutAreRejected() throws {
        func variant(_ index: Int = 1, _ edit: (inout Chunk) -> Void) -> Chunk {
            var chunk = chunks[index]
            edit(&chunk)
            return chunk
        }
        let bad: [(String, Chunk)] = [
            ("totalBytes", variant { $0.meta.totalBytes = 256 }),
            ("totalBytes", variant { $0.meta.totalBytes = 264 }),
            ("chunkCount", variant { $0.meta.chunkCount = 4 }),
            ("chunkCount", variant { $0.meta.chunkCount = 6 }),
            ("index", variant { $0.meta.index = 5 }),
            ("index", variant { $0.meta.index = -1 }),
            ("offset", variant { $0.meta.offset = 60 }),
            ("offset", variant { $0.meta.offset = 0 }),
            ("payload short", variant { $0.payload.removeLast() }),
            ("payload long", variant { $0.payload.append(0) }),
            ("payload empty", variant { $0.payload = [] }),
            ("index/offset of another chunk", variant { $0.meta.index = 2 }),
            ("weight 0", variant { $0.meta.weight = 0 }),
            ("weight < 0", variant { $0.meta.weight = -3 }),
            ("weight NaN", variant { $0.meta.weight = .nan }),
            ("weight ∞", variant { $0.meta.weight = .infinity }),
            ("last chunk short", variant(4) { $0.payload.removeLast(4) }),
        ]
        var a = assembler()
        for (what, chunk) in bad {
            let error = expectWireError(.rejected) { try feed(&a, chunk) }
            #expect(error != nil, "\(what)")
            #expect(a.openUploads == 0, "\(what) must not open an upload")
        }
        // A checksum that is not hex is malformed metadata.
        expectWireError(.malformed) { try feed(&a, variant { $0.meta.checksum = "xyz" }) }
        expectWireError(.malformed) { try feed(&a, variant { $0.meta.checksum = "" }) }
        #expect(a.openUploads == 0)
        // The good upload still goes through afterwards.
        var outcome = Fed.stored(0)
        for chunk in chunks { outcome = try feed(&a, chunk) }
        #expect(outcome == .complete(chunks[0].meta, model.data))
    }

    @Test func contradictingChunksDropTheUpload() throws {
        for contradiction in ["checksum", "weight"] {
            var a = assembler()
            #expect(try feed(&a, chunks[0]) == .stored(1))
            #expect(try feed(&a, chunks[1]) == .stored(2))
            var other = chunks[2]
            if contradiction == "checksum" { other.meta.checksum = String(model.checksum ^ 0xFF, radix: 16) }
            else { other.meta.weight = 11 }
            expectWireError(.rejected) { try feed(&a, other) }
            #expect(a.openUploads == 0, "\(contradiction): the upload is dropped")
            // Everything received before is gone: the sender starts over.
            #expect(try feed(&a, chunks[2]) == .stored(1))
            var outcome = Fed.stored(0)
            for chunk in chunks { outcome = try feed(&a, chunk) }
            #expect(outcome == .complete(chunks[2].meta, model.data))
        }
    }

    /// BUG (Sources/TributaryWire/Transfer/UploadAssembler.swift, `receive`): chunks of one upload
    /// are compared only on checksum, weight and totalBytes, so chunks that disagree on metrics
    /// or contributors are assembled into one update as if they agreed.
    @Test func chunksContradictingOnMetricsOrContributorsDropTheUpload() throws {
        for field in ["metrics", "contributors"] {
            var a = assembler()
            _ = try feed(&a, chunks[0])
            var other = chunks[1]
            if field == "metrics" { other.meta.metrics = ["train_loss": 100] } else { other.meta.contributors = ["mallory"] }
            expectWireError(.rejected) { try feed(&a, other) }
        }
    }

    @Test func badWholeUpdateChecksumReturnsNothing() throws {
        var a = assembler()
        var header = WireFixtures.header(sender: "a", model: model, weight: 10)
        header.checksum = String(model.checksum ^ 1, radix: 16)
        let wrong = WireFixtures.chunks(of: model, header: header, chunkSize: Self.chunkSize)
        for chunk in wrong.dropLast() { #expect(throws: Never.self) { try feed(&a, chunk) } }
        expectWireError(.checksumMismatch) { try feed(&a, wrong.last!) }
        #expect(a.openUploads == 0 && a.stagedBytes == 0, "the failed upload frees its staging")

        // A payload byte that changed in transit with the right checksum in the header.
        var corrupted = chunks
        corrupted[3].payload[5] ^= 0x40
        for chunk in corrupted.dropLast() { _ = try feed(&a, chunk) }
        expectWireError(.checksumMismatch) { try feed(&a, corrupted.last!) }
        #expect(a.openUploads == 0)

        // Single-chunk updates are checked too.
        var single = UploadAssembler(spec: WireFixtures.mixedSpec, chunkSize: 4096, maxStagingBytes: 0)
        let one = WireFixtures.chunks(of: model, header: header, chunkSize: 4096)
        expectWireError(.checksumMismatch) { try feed(&single, one[0]) }
    }

    @Test func stagingBudgetMakesNewSendersBusyButExistingUploadsContinue() throws {
        var a = assembler(maxStagingBytes: model.spec.totalBytes)   // room for exactly one upload
        #expect(try feed(&a, sender(chunks[0], "a")) == .stored(1))
        for chunk in chunks {
            expectWireError(.busy) { try feed(&a, sender(chunk, "b")) }
        }
        #expect(a.openUploads == 1)
        var outcome = Fed.stored(0)
        for chunk in chunks.dropFirst() { outcome = try feed(&a, sender(chunk, "a")) }
        guard case .complete(let meta, let bytes) = outcome else {
            Issue.record("the existing upload must complete, got \(outcome)")
            return
        }
        #expect(meta.sender == "a" && bytes == model.data)
        // The slot is free again: b's retry now goes through.
        #expect(try feed(&a, sender(chunks[0], "b")) == .stored(1))
        expectWireError(.busy) { try feed(&a, sender(chunks[0], "c")) }
    }

    @Test func stagingBudgetCountsWholeModels() throws {
        var two = assembler(maxStagingBytes: 2 * model.spec.totalBytes + 100)
        _ = try feed(&two, sender(chunks[0], "a"))
        _ = try feed(&two, sender(chunks[0], "b"))
        expectWireError(.busy) { try feed(&two, sender(chunks[0], "c")) }
        #expect(two.stagedBytes == 2 * model.spec.totalBytes)

        // A budget below one model still admits one upload at a time (progress is guaranteed).
        var none = assembler(maxStagingBytes: 0)
        _ = try feed(&none, sender(chunks[0], "a"))
        expectWireError(.busy) { try feed(&none, sender(chunks[0], "b")) }
    }

    @Test func dropIdleFreesStaleUploads() throws {
        let t0 = ContinuousClock.now
        var a = assembler()
        _ = try feed(&a, sender(chunks[0], "a"), now: t0)
        _ = try feed(&a, sender(chunks[0], "b"), now: t0)
        _ = try feed(&a, sender(chunks[1], "b"), now: t0 + .seconds(8))   // activity refreshes b
        _ = try feed(&a, sender(chunks[0], "c"), now: t0 + .seconds(9))
        #expect(a.openUploads == 3)

        #expect(a.dropIdle(olderThan: .seconds(5), now: t0 + .seconds(4)).isEmpty)
        #expect(a.dropIdle(olderThan: .seconds(5), now: t0 + .seconds(12)) == ["a"])
        #expect(a.openUploads == 2)
        #expect(Set(a.dropIdle(olderThan: .seconds(5), now: t0 + .seconds(20))) == ["b", "c"])
        #expect(a.openUploads == 0 && a.stagedBytes == 0)

        // A dropped sender starts over from nothing.
        #expect(try feed(&a, sender(chunks[1], "a"), now: t0 + .seconds(21)) == .stored(1))
        a.drop(sender: "a")
        #expect(a.openUploads == 0)
    }

    @Test func dropIdleMakesRoomForBusySenders() throws {
        let t0 = ContinuousClock.now
        var a = assembler(maxStagingBytes: model.spec.totalBytes)
        _ = try feed(&a, sender(chunks[0], "dead"), now: t0)
        expectWireError(.busy) { try feed(&a, sender(chunks[0], "live"), now: t0 + .seconds(1)) }
        #expect(a.dropIdle(olderThan: .seconds(30), now: t0 + .seconds(31)) == ["dead"])
        var outcome = Fed.stored(0)
        for chunk in chunks { outcome = try feed(&a, sender(chunk, "live"), now: t0 + .seconds(32)) }
        guard case .complete(let meta, _) = outcome else {
            Issue.record("expected completion, got \(outcome)")
            return
        }
        #expect(meta.sender == "live")
    }
}
