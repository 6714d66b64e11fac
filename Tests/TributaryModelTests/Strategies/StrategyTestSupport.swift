import Testing
@testable import TributaryModel

/// Fixtures and comparisons shared by the strategy tests.
enum StrategyFixtures {
    /// Model with a float64 tensor "w" [2] and a float32 scalar "b": both dtypes, odd layout.
    static func mixed(_ w: [Double], _ b: Float) throws -> Model {
        let spec = ModelSpec(tensors: [TensorSpec(name: "w", dtype: .float64, shape: [2]),
                                       TensorSpec(name: "b", dtype: .float32, shape: [])])
        var data: [UInt8] = []
        w.withUnsafeBytes { data.append(contentsOf: $0) }
        withUnsafeBytes(of: b) { data.append(contentsOf: $0) }
        return try Model(spec: spec, data: data)
    }

    /// The three values of a `mixed` model.
    static func values(_ m: Model) -> [Double] {
        [TestModels.value(m, 0, 0), TestModels.value(m, 0, 1), TestModels.value(m, 1, 0)]
    }

    /// A float32 model with one tensor "v" of these values.
    static func vector(_ v: [Float]) throws -> Model {
        try Model(float32: [(name: "v", shape: [v.count], values: v)])
    }

    /// |a − b| ≤ 1e-5·|b| (+1e-9 so exact zeros compare).
    static func close(_ a: Double, _ b: Double, rel: Double = 1e-5) -> Bool {
        abs(a - b) <= rel * abs(b) + 1e-9
    }

    static func expectClose(_ a: [Double], _ b: [Double], rel: Double = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            #expect(close(x, y, rel: rel), "\(a) vs expected \(b)", sourceLocation: sourceLocation)
        }
    }

    // Inputs of the optimizer tests: x₀, then the FedAvg of round 1 and of round 2.
    static func x0() throws -> Model { try mixed([1.0, -2.0], 0.5) }
    static func avg1() throws -> Model { try mixed([2.0, -1.5], 0.25) }
    static func avg2() throws -> Model { try mixed([1.2, -1.2], 0.75) }
}
