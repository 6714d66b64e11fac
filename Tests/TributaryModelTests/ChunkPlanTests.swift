import Testing
@testable import TributaryModel

@Suite struct ChunkPlanTests {
    static let spec = ModelSpec(tensors: [
        TensorSpec(name: "a", dtype: .float32, shape: [33]),
        TensorSpec(name: "b", dtype: .float64, shape: [17]),
        TensorSpec(name: "z", dtype: .float32, shape: [0]),
        TensorSpec(name: "c", dtype: .uint8, shape: [9]),
        TensorSpec(name: "d", dtype: .float64, shape: [3, 5]),
        TensorSpec(name: "e", dtype: .float32, shape: [101]),
    ])

    /// Whether flat byte `b` is the start of an element (or the end of the model).
    static func isElementBoundary(_ b: Int, _ spec: ModelSpec) -> Bool {
        if b == spec.totalBytes { return true }
        for (t, off) in zip(spec.tensors, spec.offsets) where off <= b && b < off + t.byteCount {
            return (b - off) % t.dtype.size == 0
        }
        return true
    }

    @Test(arguments: [64, 65, 70, 100, 128, 333, 1000, 1 << 20])
    func coversRangeWithoutGapsAndRespectsLimits(size: Int) {
        let plan = ChunkPlan(spec: Self.spec, chunkSize: size)
        #expect(plan.chunks.first?.lowerBound == 0)
        #expect(plan.chunks.last?.upperBound == Self.spec.totalBytes)
        for (x, y) in zip(plan.chunks, plan.chunks.dropFirst()) { #expect(x.upperBound == y.lowerBound) }
        for c in plan.chunks {
            #expect(!c.isEmpty && c.count <= size)
            #expect(Self.isElementBoundary(c.lowerBound, Self.spec) && Self.isElementBoundary(c.upperBound, Self.spec))
        }
        #expect(plan == ChunkPlan(spec: Self.spec, chunkSize: size), "deterministic")
        for c in plan.chunks.indices {
            #expect(plan.chunkIndex(containing: plan.chunks[c].lowerBound) == c)
            #expect(plan.chunkIndex(containing: plan.chunks[c].upperBound - 1) == c)
        }
        #expect(plan.chunkIndex(containing: Self.spec.totalBytes) == nil)
    }

    @Test func movesCutDownToElementBoundary() {
        // 65-byte chunks over float64 data: each cut at 65 moves down to 64.
        let spec = ModelSpec(tensors: [TensorSpec(name: "d", dtype: .float64, shape: [20])])
        let plan = ChunkPlan(spec: spec, chunkSize: 65)
        #expect(plan.chunks == [0..<64, 64..<128, 128..<160])
    }

    @Test func emptyModelHasOneEmptyChunkAndTinySizesAreRaised() {
        #expect(ChunkPlan(spec: ModelSpec(tensors: []), chunkSize: 1 << 20).chunks == [0..<0])
        #expect(ChunkPlan(spec: ModelSpec(tensors: [TensorSpec(name: "z", dtype: .float32, shape: [0])]),
                          chunkSize: 64).chunks == [0..<0])
        let plan = ChunkPlan(spec: Self.spec, chunkSize: 0)
        #expect(plan.chunkSize == ChunkPlan.smallestAllowedChunkSize)
        #expect(plan == ChunkPlan(spec: Self.spec, chunkSize: 64))
        #expect(ChunkPlan.defaultChunkSize == 8 << 20)
    }
}
