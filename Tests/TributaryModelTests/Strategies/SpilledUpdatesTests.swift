import Foundation
import Testing
@testable import TributaryModel

/// Robust rules over updates spilled to disk and swept a block at a time must give exactly
/// (bit for bit) what they give over the same updates in memory.
@Suite("Spilled updates")
struct SpilledUpdatesTests {
    static let spec = ModelSpec(tensors: [
        TensorSpec(name: "w", dtype: .float32, shape: [5, 7]),
        TensorSpec(name: "b", dtype: .float64, shape: [3]),
        TensorSpec(name: "s", dtype: .float32, shape: []),
    ])

    /// n updates with values in [-2, 2]; a few far out, as a Byzantine client would send.
    static func updates(_ n: Int, seed: UInt64) throws -> [Model] {
        var rng = SplitMix64(seed: seed)
        return try (0..<n).map { k in
            var m = try Model(zeros: spec)
            for (t, off) in zip(spec.tensors, spec.offsets) {
                for i in 0..<t.count {
                    let v = Double.random(in: -2...2, using: &rng) * (k == n - 1 ? 50 : 1)
                    m.data.withUnsafeMutableBytes { raw in
                        if t.dtype == .float32 { raw.storeBytes(of: Float(v), toByteOffset: off + i * 4, as: Float.self) } else { raw.storeBytes(of: v, toByteOffset: off + i * 8, as: Double.self) }
                    }
                }
            }
            return m
        }
    }

    static func spill(_ updates: [Model], block: Int) throws -> SpilledUpdates {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spill-test-\(UUID().uuidString)")
        let spill = try SpilledUpdates(spec: spec, directory: dir, blockElements: block)
        for u in updates { try u.data.withUnsafeBytes { (raw) throws(ModelError) in try spill.append(raw) } }
        return spill
    }

    @Test(arguments: [1, 4, 1_000])
    func everyRuleMatchesTheInMemoryRule(block: Int) throws {
        let updates = try Self.updates(11, seed: 7)
        let spill = try Self.spill(updates, block: block)
        #expect(spill.count == 11)
        #expect(try FedMedian.aggregate(spill) == FedMedian.aggregate(updates))
        #expect(try FedTrimmedAvg.aggregate(spill, beta: 0.2) == FedTrimmedAvg.aggregate(updates, beta: 0.2))
        #expect(try Krum.scores(spill, numMalicious: 2) == Krum.scores(updates, numMalicious: 2))
        #expect(try Krum.krum(spill, numMalicious: 2) == Krum.krum(updates, numMalicious: 2))
        let weights = (1...11).map(Double.init)
        #expect(try Krum.multiKrum(spill, weights: weights, numMalicious: 2, numToKeep: 5)
                == Krum.multiKrum(updates, weights: weights, numMalicious: 2, numToKeep: 5))
        #expect(try Bulyan.aggregate(spill, numMalicious: 2) == Bulyan.aggregate(updates, numMalicious: 2))
        // The outlier (update 10, ×50) is never Krum's choice.
        #expect(try Krum.krum(spill, numMalicious: 2) != updates[10])
    }

    @Test func aSubsetReadsItsUpdatesInItsOwnOrder() throws {
        let updates = try Self.updates(5, seed: 3)
        let spill = try Self.spill(updates, block: 3)
        let order = [4, 0, 2, 1, 3]
        let subset = UpdateSubset(spill, indices: order)
        #expect(try subset.update(0) == updates[4])
        #expect(try Krum.scores(subset, numMalicious: 1) == Krum.scores(order.map { updates[$0] }, numMalicious: 1))
    }

    @Test func filesLiveAsLongAsTheSpill() throws {
        var spill: SpilledUpdates? = try Self.spill(try Self.updates(3, seed: 1), block: 8)
        let dir = spill!.directory
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 3)
        spill = nil
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    @Test func refusesUpdatesOfAnotherSizeAndIntegerModels() throws {
        let spill = try Self.spill([], block: 8)
        let short = [UInt8](repeating: 0, count: 12)
        #expect(throws: ModelError.self) { try short.withUnsafeBytes { (raw) throws(ModelError) in try spill.append(raw) } }
        let ints = ModelSpec(tensors: [TensorSpec(name: "i", dtype: .int32, shape: [2])])
        #expect(throws: ModelError.unsupportedDType(.int32)) {
            try SpilledUpdates(spec: ints, directory: FileManager.default.temporaryDirectory.appendingPathComponent("spill-int-\(UUID().uuidString)"))
        }
    }
}
