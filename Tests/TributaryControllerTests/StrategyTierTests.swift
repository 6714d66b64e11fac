import Foundation
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore
import TributaryWire

/// Every decomposable strategy gives the same model with two combiners as with one —
/// through the real tiers (combiner `JobCollector` with the round's model, controller
/// `JobCollector` reduce, then `ServerAggregation`: DP noise and the server optimizer, whose
/// state is carried between rounds as the controller stores it) — and robust rules run over
/// every forwarded update.
@Suite("Strategies across tiers")
struct StrategyTierTests {
    static let spec = ModelSpec(tensors: [
        TensorSpec(name: "w", dtype: .float32, shape: [4, 5]),
        TensorSpec(name: "b", dtype: .float64, shape: [3]),
    ])

    /// Deterministic values in `range` (an LCG: no library randomness in expectations).
    static func model(seed: UInt64, range: ClosedRange<Double>) throws -> Model {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return range.lowerBound + (range.upperBound - range.lowerBound) * Double(state >> 11) / Double(1 << 53)
        }
        var data = [UInt8]()
        for t in spec.tensors {
            for _ in 0..<t.count {
                if t.dtype == .float32 { withUnsafeBytes(of: Float(next())) { data += $0 } } else { withUnsafeBytes(of: next()) { data += $0 } }
            }
        }
        return try Model(spec: spec, data: data)
    }

    /// Six clients: each adds its own fixed positive delta to the global model.
    let deltas: [Model]
    let weights: [Double] = [10, 250, 40, 3, 120, 77]

    init() throws {
        deltas = try (0..<6).map { try Self.model(seed: 100 + UInt64($0), range: 0.1...0.5) }
    }

    static func elementwise(_ a: Model, _ b: Model, _ op: (Double, Double) -> Double) throws -> Model {
        var out = [UInt8]()
        for (ti, t) in spec.tensors.enumerated() {
            let off = spec.offsets[ti]
            for i in 0..<t.count {
                if t.dtype == .float32 {
                    let x = a.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 4 * i, as: Float.self) }
                    let y = b.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 4 * i, as: Float.self) }
                    withUnsafeBytes(of: Float(op(Double(x), Double(y)))) { out += $0 }
                } else {
                    let x = a.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 8 * i, as: Double.self) }
                    let y = b.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 8 * i, as: Double.self) }
                    withUnsafeBytes(of: op(x, y)) { out += $0 }
                }
            }
        }
        return try Model(spec: spec, data: out)
    }

    static func maxDifference(_ a: Model, _ b: Model) throws -> Double {
        zip(allValues(a), allValues(b)).map { abs($0 - $1) }.max() ?? 0
    }

    static func allValues(_ m: Model) -> [Double] {
        var out: [Double] = []
        for (ti, t) in spec.tensors.enumerated() {
            let off = spec.offsets[ti]
            for i in 0..<t.count {
                out.append(t.dtype == .float32 ? Double(m.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 4 * i, as: Float.self) })
                                               : m.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 8 * i, as: Double.self) })
            }
        }
        return out
    }

    static func order(_ settings: AggregatorSettings, round: Int) -> JobOrder {
        var order = JobOrder(jobId: "job-\(round)", sessionId: "s", round: round, kind: .train, modelId: "m", chunkSize: 64,
                             config: TrainingConfig(), timeoutSeconds: 60, minClients: 1)
        ServerAggregation(settings: settings).configure(&order)
        return order
    }

    /// Feeds an upload chunk by chunk, as `ModelTransfer.upload` cuts it.
    static func chunks(_ model: Model, sender: String, weight: Double, order: JobOrder, contributors: [String] = []) -> [(UploadChunk, [UInt8])] {
        let plan = ChunkPlan(spec: model.spec, chunkSize: order.chunkSize)
        return plan.chunks.enumerated().map { index, range in
            (UploadChunk(jobId: order.jobId, sessionId: order.sessionId, round: order.round, sender: sender, index: index,
                         chunkCount: plan.chunks.count, offset: range.lowerBound, totalBytes: model.spec.totalBytes,
                         checksum: model.chunkChecksums(chunkSize: order.chunkSize).update,
                         weight: weight, metrics: [:], contributors: contributors), Array(model.data[range]))
        }
    }

    /// One round through both tiers; `split` groups client indices by combiner.
    func round(_ settings: AggregatorSettings, global: Model, split: [[Int]], number: Int, state: Data?) throws -> ServerAggregation.Output {
        let order = Self.order(settings, round: number)
        var partials: [(String, JobCollector.Result)] = []
        for (k, group) in split.enumerated() {
            var collector = try JobCollector(order: order, spec: Self.spec, selected: Set(group.map { "c\($0)" }), maxStagingBytes: 1 << 20, global: global)
            for i in group {
                for (meta, payload) in Self.chunks(try Self.elementwise(global, deltas[i], +), sender: "c\(i)", weight: weights[i], order: order) {
                    _ = try payload.withUnsafeBytes { try collector.receiveChunk(meta, payload: $0) }
                }
            }
            partials.append(("combiner-\(k)", collector.close()))
        }
        var top = try JobCollector(order: order, spec: Self.spec, selected: Set(partials.map(\.0)), maxStagingBytes: 1 << 20)
        for (name, result) in partials {
            for (meta, payload) in Self.chunks(try #require(result.model), sender: name, weight: result.weight, order: order, contributors: result.contributors) {
                _ = try payload.withUnsafeBytes { try top.receiveChunk(meta, payload: $0) }
            }
        }
        let outcome = JobBoard.Outcome(result: top.close(), reports: [], updates: [], issues: [])
        return try ServerAggregation(settings: settings).aggregate(global: global, outcome: outcome, round: number, previousState: state)
    }

    @Test("Two combiners give the one-combiner model, over three rounds", arguments: [
        ("fedavg", [:]), ("fedprox", ["proximal_mu": 0.1]), ("fedadam", [:]), ("fedyogi", [:]), ("fedadagrad", [:]),
        ("fedavgm", ["momentum": 0.9]), ("fedopt", ["serveropt": "yogi", "learning_rate": 0.05]), ("fedopt", ["serveropt": "adagrad", "learning_rate": 0.05]), ("fedavg", ["clip_norm": 0.5, "noise_multiplier": 1.0, "dp_seed": 42]),
        ("fedadam", ["clip_norm": 0.5, "noise_multiplier": 0.5, "dp_seed": 7, "max_update_norm": 100]),
    ] as [(String, [String: AggregatorKwarg])])
    func twoCombinersEqualOne(aggregator: String, kwargs: [String: AggregatorKwarg]) throws {
        let settings = try AggregatorSettings.parse(aggregator: aggregator, kwargs: kwargs)
        var finals: [Model] = []
        for split in [[[0, 1, 2, 3, 4, 5]], [[0, 1, 2], [3, 4, 5]], [[4], [0, 1, 2, 3, 5]]] {
            var global = try Self.model(seed: 1, range: -1...1)
            var state: Data?
            for number in 1...3 {
                let out = try round(settings, global: global, split: split, number: number, state: state)
                #expect(out.clients == 6)
                #expect(settings.kind.usesServerOptimizer == (out.optimizerState != nil))
                if settings.usesDifferentialPrivacy {
                    let dp = try #require(out.dp)
                    #expect(dp.seed == settings.dpSeed! + UInt64(number))
                    #expect(dp.sigma == settings.noiseMultiplier! * settings.clipNorm! / 6)
                }
                (global, state) = (out.model, out.optimizerState)
            }
            finals.append(global)
        }
        for other in finals.dropFirst() {
            #expect(try Self.maxDifference(finals[0], other) <= 1e-5, "\(aggregator) \(kwargs)")
        }
        // Each round really moved the model (the strategies are not a no-op).
        #expect(try Self.maxDifference(finals[0], try Self.model(seed: 1, range: -1...1)) > 0.01)
    }

    @Test("DP weighs every clipped update equally: with z = 0 the reduce is the unweighted mean of clipped deltas")
    func dpUsesEqualWeights() throws {
        let settings = try AggregatorSettings.parse(aggregator: "fedavg", kwargs: ["clip_norm": 0.5, "noise_multiplier": 0])
        let global = try Self.model(seed: 1, range: -1...1)
        let out = try round(settings, global: global, split: [[0, 1], [2, 3, 4, 5]], number: 1, state: nil)
        // Every delta has norm > 0.5, so each clipped delta is δ·0.5/‖δ‖; their plain mean:
        var expected = [Double](repeating: 0, count: Self.spec.parameterCount)
        for delta in deltas {
            let v = Self.allValues(delta)
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(norm > 0.5)
            for j in v.indices { expected[j] += v[j] * 0.5 / norm / 6 }
        }
        let got = zip(Self.allValues(out.model), Self.allValues(global)).map { $0 - $1 }
        #expect(zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(got) vs \(expected)")
    }
}
