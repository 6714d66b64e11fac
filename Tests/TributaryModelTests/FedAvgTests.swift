import Testing
@testable import TributaryModel

@Suite struct FedAvgTests {
    @Test func handComputedExample() throws {
        let a = try Model(float32: [(name: "w", shape: [3], values: [1, 2, 3]), (name: "b", shape: [], values: [10])])
        let b = try Model(float32: [(name: "w", shape: [3], values: [5, 6, -1]), (name: "b", shape: [], values: [2])])
        var acc = try FedAvgAccumulator(spec: a.spec)
        try acc.add(a, weight: 100)
        try acc.add(b, weight: 300)
        #expect(acc.count == 2 && acc.totalWeight == 400)
        let avg = try acc.average()
        // (100·1 + 300·5)/400 = 4, (200 + 1800)/400 = 5, (300 − 300)/400 = 0, (1000 + 600)/400 = 4
        #expect(try avg.float32s("w") == [4, 5, 0])
        #expect(try avg.float32s("b") == [4])
    }

    @Test func float64TensorsAverageInDouble() throws {
        let spec = ModelSpec(tensors: [TensorSpec(name: "x", dtype: .float32, shape: [1]),
                                       TensorSpec(name: "y", dtype: .float64, shape: [2])])
        func model(_ x: Float, _ y0: Double, _ y1: Double) throws -> Model {
            try Model(spec: spec, data: withUnsafeBytes(of: x) { Array($0) } + withUnsafeBytes(of: (y0, y1)) { Array($0) })
        }
        var acc = try FedAvgAccumulator(spec: spec)
        try acc.add(model(1, 0.1, 1e-300), weight: 1)
        try acc.add(model(3, 0.3, 3e-300), weight: 3)
        let avg = try acc.average()
        #expect(TestModels.value(avg, 0, 0) == 2.5)
        #expect(abs(TestModels.value(avg, 1, 0) - 0.25) < 1e-15)
        #expect(abs(TestModels.value(avg, 1, 1) / 2.5e-300 - 1) < 1e-12)
    }

    /// Random updates split unevenly over 3 combiners; the controller folds the combiners'
    /// averages weighted by their total weights. Must equal a flat FedAvg (Double reference).
    @Test func hierarchicalEqualsFlat() throws {
        let spec = TestModels.mixedFloatSpec
        var rng = SplitMix64(seed: 42)
        let updates = try (0..<11).map { try TestModels.floatModel(spec: spec, seed: 100 + UInt64($0)) }
        let weights = updates.map { _ in Double(Int.random(in: 1...5_000, using: &rng)) }
        let groups = [0..<1, 1..<4, 4..<11]

        var controller = try FedAvgAccumulator(spec: spec)
        for g in groups {
            var combiner = try FedAvgAccumulator(spec: spec)
            for i in g { try combiner.add(updates[i], weight: weights[i]) }
            try controller.add(try combiner.average(), weight: combiner.totalWeight)
        }
        let hierarchical = try controller.average()
        #expect(controller.totalWeight == weights.reduce(0, +))

        var flatAcc = try FedAvgAccumulator(spec: spec)
        for (u, w) in zip(updates, weights) { try flatAcc.add(u, weight: w) }
        let flat = try flatAcc.average()

        let total = weights.reduce(0, +)
        for (ti, t) in spec.tensors.enumerated() {
            for i in 0..<t.count {
                let reference = zip(updates, weights).reduce(0.0) { $0 + $1.1 * TestModels.value($1.0, ti, i) } / total
                let tolerance = 1e-5 * max(abs(reference), 1e-2)
                #expect(abs(TestModels.value(hierarchical, ti, i) - reference) <= tolerance, "\(t.name)[\(i)]")
                #expect(abs(TestModels.value(flat, ti, i) - reference) <= tolerance, "\(t.name)[\(i)]")
            }
        }
    }

    @Test func rejectsNonFiniteAndLeavesAccumulatorUnchanged() throws {
        let spec = TestModels.mixedFloatSpec
        let good = try TestModels.floatModel(spec: spec, seed: 1)
        var acc = try FedAvgAccumulator(spec: spec)
        try acc.add(good, weight: 2)
        let before = try acc.average()
        for (tensor, bad) in [("e", Float.nan), ("e", .infinity), ("a", -.infinity)] {
            var m = try TestModels.floatModel(spec: spec, seed: 2)
            var values = try m.float32s(tensor)
            values[values.count - 1] = bad  // the last value: everything before it would fold first
            try m.setFloat32s(tensor, values)
            #expect(throws: ModelError.nonFinite(tensor: tensor)) { try acc.add(m, weight: 1) }
        }
        var m = try TestModels.floatModel(spec: spec, seed: 3)
        m.data.withUnsafeMutableBytes { $0.storeBytes(of: Double.nan, toByteOffset: spec.offsets[1] + 8, as: Double.self) }
        #expect(throws: ModelError.nonFinite(tensor: "b")) { try acc.add(m, weight: 1) }
        #expect(acc.count == 1 && acc.totalWeight == 2)
        #expect(try acc.average() == before)
    }

    @Test func rejectsSizeAndSpecMismatch() throws {
        let spec = TestModels.mixedFloatSpec
        var acc = try FedAvgAccumulator(spec: spec)
        let short = [UInt8](repeating: 0, count: spec.totalBytes - 4)
        #expect(throws: ModelError.sizeMismatch(expected: spec.totalBytes, actual: spec.totalBytes - 4)) {
            try short.withUnsafeBytes { try acc.add($0, weight: 1) }
        }
        var renamed = spec
        renamed.tensors[2].name = "other"
        var reshaped = spec
        reshaped.tensors[0].shape = [1, 37]
        for other in [renamed, reshaped, ModelSpec(tensors: Array(spec.tensors.dropLast()))] {
            let m = try Model(zeros: other)
            #expect(throws: ModelError.self) { try acc.add(m, weight: 1) }
        }
        #expect(acc.count == 0)
        #expect(throws: ModelError.noUpdates) { try acc.average() }
    }

    @Test func rejectsBadWeights() throws {
        let m = try TestModels.floatModel(spec: TestModels.mixedFloatSpec, seed: 5)
        var acc = try FedAvgAccumulator(spec: m.spec)
        for w in [0, -1, .nan, .infinity, -.infinity, 1e300, 1e-300] {
            #expect(throws: ModelError.self) { try acc.add(m, weight: w) }
        }
        #expect(acc.count == 0 && acc.totalWeight == 0)
    }

    @Test func refusesNonFloatTensors() {
        let spec = ModelSpec(tensors: [TensorSpec(name: "f", dtype: .float32, shape: [2]),
                                       TensorSpec(name: "steps", dtype: .int64, shape: [])])
        #expect(throws: ModelError.unsupportedDType(.int64)) { try FedAvgAccumulator(spec: spec) }
    }

    @Test func unalignedUpdateBytes() throws {
        let m = try TestModels.floatModel(spec: TestModels.mixedFloatSpec, seed: 9)
        var acc = try FedAvgAccumulator(spec: m.spec)
        let shifted = [UInt8](repeating: 0, count: 4) + m.data  // 4-byte aligned only, like an nng body
        try shifted.withUnsafeBytes { raw in try acc.add(UnsafeRawBufferPointer(rebasing: raw[4...]), weight: 4) }  // power of two: exact
        #expect(try acc.average() == m)
    }
}

@Suite struct UpdateValidationTests {
    @Test func normBoundAndSize() throws {
        let m = try Model(float32: [(name: "a", shape: [2], values: [3, 4])])
        try m.data.withUnsafeBytes { raw in
            try UpdateValidation.validate(raw, spec: m.spec, maxNorm: 5)
            #expect(throws: ModelError.normExceeded(norm: 5, limit: 4.9)) {
                try UpdateValidation.validate(raw, spec: m.spec, maxNorm: 4.9)
            }
            #expect(throws: ModelError.self) {
                try UpdateValidation.validate(UnsafeRawBufferPointer(rebasing: raw[0..<4]), spec: m.spec)
            }
        }
        // Integer tensors are skipped by validation (only the accumulator refuses them).
        let mixed = try TestModels.allDTypes()
        try mixed.data.withUnsafeBytes { try UpdateValidation.validate($0, spec: mixed.spec, maxNorm: 1e6) }
    }

    @Test func chunkedFiniteCheckMatchesWholeCheck() throws {
        let spec = ChunkPlanTests.spec
        var m = try Model(zeros: spec)
        let plan = ChunkPlan(spec: spec, chunkSize: 64)
        try m.data.withUnsafeBytes { raw in
            for c in plan.chunks {
                try UpdateValidation.validateFinite(UnsafeRawBufferPointer(rebasing: raw[c]), at: c.lowerBound, spec: spec)
            }
        }
        // Poison one float64 element of tensor "d" and find it via the chunk that holds it.
        let target = spec.offsets[4] + 8 * 7
        m.data.withUnsafeMutableBytes { $0.storeBytes(of: Double.infinity, toByteOffset: target, as: Double.self) }
        let bad = try #require(plan.chunkIndex(containing: target))
        m.data.withUnsafeBytes { raw in
            for (i, c) in plan.chunks.enumerated() {
                let chunk = UnsafeRawBufferPointer(rebasing: raw[c])
                if i == bad {
                    #expect(throws: ModelError.nonFinite(tensor: "d")) { try UpdateValidation.validateFinite(chunk, at: c.lowerBound, spec: spec) }
                } else {
                    #expect(throws: Never.self) { try UpdateValidation.validateFinite(chunk, at: c.lowerBound, spec: spec) }
                }
            }
            // A chunk that splits an element, or lies outside the model, is refused.
            #expect(throws: ModelError.self) {
                try UpdateValidation.validateFinite(UnsafeRawBufferPointer(rebasing: raw[2..<10]), at: 2, spec: spec)
            }
            #expect(throws: ModelError.self) {
                try UpdateValidation.validateFinite(UnsafeRawBufferPointer(rebasing: raw[0..<8]), at: spec.totalBytes - 4, spec: spec)
            }
        }
    }
}
