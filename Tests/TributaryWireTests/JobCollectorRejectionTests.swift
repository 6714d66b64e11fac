import Foundation
import Testing
import TributaryModel
@testable import TributaryWire

@Suite("Job collector: rejections")
struct JobCollectorRejectionTests {
    let spec = WireFixtures.mixedSpec
    let updates: [String: Model]

    init() throws {
        var updates: [String: Model] = [:]
        for (i, name) in ["a", "b", "c", "d"].enumerated() {
            updates[name] = try WireFixtures.model(WireFixtures.mixedSpec, seed: 300 + UInt64(i))
        }
        self.updates = updates
    }

    private func collector(selected: Set<String> = ["a", "b", "c", "d"], chunkSize: Int = 64, bufferSize: Int? = nil) throws -> JobCollector {
        try JobCollector(order: WireFixtures.order(chunkSize: chunkSize, bufferSize: bufferSize), spec: spec, selected: selected, maxStagingBytes: 1 << 20)
    }

    private func chunks(_ sender: String, model: Model? = nil, weight: Double = 10, chunkSize: Int = 64,
                        edit: (inout UploadChunk) -> Void = { _ in }) -> [(meta: UploadChunk, payload: [UInt8])] {
        let model = model ?? updates[sender] ?? updates["a"]!
        var header = WireFixtures.header(sender: sender, model: model, weight: weight, metrics: ["train_loss": 1])
        edit(&header)
        return WireFixtures.chunks(of: model, header: header, chunkSize: chunkSize)
    }

    /// The aggregate of exactly `senders`, folded in that order by a fresh collector.
    private func reference(_ senders: [String], weight: Double = 10) throws -> Model? {
        var c = try collector()
        for s in senders { try c.receiveAll(chunks(s, weight: weight)) }
        return c.close().model
    }

    @Test func updatesForAnotherJobRoundOrSessionAreUnknown() throws {
        var c = try collector()
        expectWireError(.unknownJob) { try c.receiveAll(chunks("a") { $0.jobId = "job-other" }) }
        expectWireError(.unknownJob) { try c.receiveAll(chunks("a") { $0.round = WireFixtures.round + 1 }) }
        expectWireError(.unknownJob) { try c.receiveAll(chunks("a") { $0.round = WireFixtures.round - 1 }) }
        expectWireError(.unknownJob) { try c.receiveAll(chunks("a") { $0.sessionId = "session-2" }) }
        #expect(c.accepted.isEmpty && c.rejected.isEmpty)
        #expect(c.pending == ["a", "b", "c", "d"])
        #expect(try c.receiveAll(chunks("a")).status == .accepted)
    }

    @Test func senderNotSelectedIsRefused() throws {
        var c = try collector(selected: ["a", "b"])
        expectWireError(.notSelected) { try c.receiveAll(chunks("c")) }
        expectWireError(.notSelected) { try c.receiveAll(chunks("")) }
        #expect(c.accepted.isEmpty && c.rejected.isEmpty)
    }

    @Test func secondUpdateFromTheSameSenderIsDuplicate() throws {
        var c = try collector()
        #expect(try c.receiveAll(chunks("a")).status == .accepted)
        // A whole second update, a retried last chunk, and a different model: all duplicates.
        expectWireError(.duplicate) { try c.receiveAll(chunks("a")) }
        expectWireError(.duplicate) { try c.receive(chunks("a").last!) }
        expectWireError(.duplicate) { try c.receiveAll(chunks("a", model: updates["b"]!, weight: 1000)) }
        let result = c.close()
        #expect(result.accepted == ["a"])
        #expect(result.weight == 10)
        #expect(isClose(result.model, updates["a"]), "the duplicate was not folded in")
    }

    @Test func updateAfterCloseIsLate() throws {
        var c = try collector()
        try c.receiveAll(chunks("a"))
        // b's upload is half-way when the job closes.
        _ = try c.receive(chunks("b")[0])
        let result = c.close()
        #expect(c.isClosed)
        let late = expectWireError(.unknownJob) { try c.receiveAll(chunks("c")) }
        #expect(late?.message.contains("late") == true)
        expectWireError(.unknownJob) { try c.receiveAll(Array(chunks("b").dropFirst())) }
        #expect(result.accepted == ["a"])
        #expect(c.accepted == ["a"])
        #expect(isClose(result.model, updates["a"]))
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteMultiChunkUpdateIsRejectedAndNeverFolded(bad: Double) throws {
        var c = try collector()
        try c.receiveAll(chunks("a"))
        var poisoned = updates["b"]!
        WireFixtures.set(&poisoned, element: 40, to: bad)   // inside the float64 tensor, mid-upload
        let bChunks = chunks("b", model: poisoned)
        for chunk in bChunks.dropLast() { #expect(try c.receive(chunk).status == .stored) }
        expectWireError(.rejected) { try c.receive(bChunks.last!) }
        #expect(c.rejected["b"] != nil)
        #expect(!c.pending.contains("b"))
        // The verdict is final: a clean retry is refused too.
        expectWireError(.rejected) { try c.receiveAll(chunks("b")) }
        try c.receiveAll(chunks("c"))

        let result = c.close()
        #expect(result.accepted == ["a", "c"])
        #expect(Set(result.rejected.keys) == ["b"])
        #expect(result.weight == 20)
        let expected = try reference(["a", "c"])
        #expect(result.model == expected, "the aggregate equals the aggregate without the rejected update")
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteSingleChunkUpdateIsRejectedAndNeverFolded(bad: Double) throws {
        var c = try collector(chunkSize: 4096)
        try c.receiveAll(chunks("a", chunkSize: 4096))
        var poisoned = updates["d"]!
        WireFixtures.set(&poisoned, element: 0, to: bad)     // first float32
        expectWireError(.rejected) { try c.receiveAll(chunks("d", model: poisoned, chunkSize: 4096)) }
        var poisoned64 = updates["b"]!
        WireFixtures.set(&poisoned64, element: 43, to: bad)  // last float64
        expectWireError(.rejected) { try c.receiveAll(chunks("b", model: poisoned64, chunkSize: 4096)) }
        try c.receiveAll(chunks("c", chunkSize: 4096))
        let result = c.close()
        #expect(result.accepted == ["a", "c"])
        #expect(Set(result.rejected.keys) == ["b", "d"])
        let expected = try reference(["a", "c"])
        #expect(isClose(result.model, expected))
        #expect(WireFixtures.values(try #require(result.model)).allSatisfy(\.isFinite))
    }

    @Test(arguments: [64, 4096])
    func nonPositiveOrNonFiniteWeightIsRejected(chunkSize: Int) throws {
        var c = try collector(chunkSize: chunkSize)
        for weight in [0, -1, -.infinity, .infinity, .nan, -0.0] {
            let error = expectWireError(.rejected) { try c.receiveAll(chunks("a", weight: weight, chunkSize: chunkSize)) }
            #expect(error?.message.contains("weight") == true, "\(String(describing: error))")
        }
        // Positive as a Double but zero or infinite as a Float (float32 tensors are scaled in Float).
        for (sender, weight) in [("b", 1e-50), ("c", 1e300)] {
            let error = expectWireError(.rejected) { try c.receiveAll(chunks(sender, weight: weight, chunkSize: chunkSize)) }
            #expect(error?.message.contains("weight") == true, "\(String(describing: error))")
        }
        try c.receiveAll(chunks("d", chunkSize: chunkSize))
        let result = c.close()
        #expect(result.accepted == ["d"])
        #expect(result.weight == 10)
        #expect(isClose(result.model, updates["d"]))
    }

    @Test func wrongSizeIsRejected() throws {
        var c = try collector()
        let smaller = try WireFixtures.model(ModelSpec(tensors: [TensorSpec(name: "w", dtype: .float32, shape: [5, 7])]), seed: 1)
        let larger = try WireFixtures.model(ModelSpec(tensors: WireFixtures.mixedSpec.tensors + [TensorSpec(name: "x", dtype: .float32, shape: [3])]), seed: 1)
        expectWireError(.rejected) { try c.receiveAll(chunks("a", model: smaller)) }
        expectWireError(.rejected) { try c.receiveAll(chunks("a", model: larger)) }
        // Right totalBytes in the header but a truncated payload.
        var short = chunks("a")
        short[1].payload.removeLast(4)
        expectWireError(.rejected) { try c.receive(short[1]) }
        // Chunked with another chunk size than the job's.
        expectWireError(.rejected) { try c.receiveAll(chunks("a", chunkSize: 128)) }
        try c.receiveAll(chunks("b"))
        #expect(isClose(c.close().model, updates["b"]))
    }

    /// BUG (Sources/TributaryWire/Transfer/JobCollector.swift, `receiveChunk`): on completion the
    /// collector records `meta.metrics`/`meta.contributors` of the *last* chunk, not those of
    /// `complete.meta` the assembler returns, and the assembler does not check that chunks agree
    /// on them. A last chunk that claims other metrics or contributors wins.
    @Test func foldedMetadataIsTheUploadsOwn() throws {
        var c = try collector()
        var upload = chunks("a")
        upload[upload.count - 1].meta.metrics = ["train_loss": 100]
        upload[upload.count - 1].meta.contributors = ["mallory"]
        _ = try? c.receiveAll(upload)
        let result = c.close()
        // Either the contradicting upload is refused, or what is folded is what it opened with.
        #expect(result.metrics["train_loss"] != 100, "\(result.metrics)")
        #expect(!result.contributors.contains("mallory"), "\(result.contributors)")
    }

    @Test func badChecksumIsRefusedAndNotFolded() throws {
        var c = try collector()
        expectWireError(.checksumMismatch) { try c.receiveAll(chunks("a") { $0.checksum = "1" }) }
        try c.receiveAll(chunks("b"))
        #expect(isClose(c.close().model, updates["b"]))
    }
}
