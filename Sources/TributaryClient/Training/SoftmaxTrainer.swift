import Foundation
import TributaryModel

/// The built-in trainer: minibatch SGD on `SoftmaxRegression` over this client's share of the
/// data. It holds its data in memory (a few hundred examples), so a round costs milliseconds
/// and the federation's behaviour, not local compute, dominates a demo.
public struct SoftmaxTrainer: Trainer {
    public let trainData: Dataset
    public let testData: Dataset
    /// Mixed into the shuffling seed so clients with the same config shuffle differently
    /// (e.g. the partition index).
    public let shuffleSalt: UInt64

    public init(train: Dataset, test: Dataset, shuffleSalt: UInt64 = 0) throws(TrainerError) {
        for (name, d) in [("train", train), ("test", test)] {
            guard d.featureCount == DigitsDataset.featureCount, d.classCount == DigitsDataset.classCount else {
                throw .invalidData("\(name) data has \(d.featureCount) features and \(d.classCount) classes; "
                    + "the softmax model needs \(DigitsDataset.featureCount) and \(DigitsDataset.classCount)")
            }
            if let bad = d.labels.first(where: { !(0..<d.classCount).contains($0) }) {
                throw .invalidData("\(name) data has label \(bad) outside 0..<\(d.classCount)")
            }
        }
        trainData = train
        testData = test
        self.shuffleSalt = shuffleSalt
    }

    /// The trainer of client `partition` on the bundled digits (or the CSV at `url`), with the
    /// seeded split and partition every other client computes the same way.
    public static func digits(
        partition: PartitionSpec, scheme: PartitionScheme = .iid,
        testFraction: Double = DataPartition.defaultTestFraction,
        seed: UInt64 = DataPartition.defaultSeed, csv url: URL? = nil
    ) throws(TrainerError) -> SoftmaxTrainer {
        let all = try DigitsDataset.load(from: url)
        let mine = try DataPartition.clientData(all, partition: partition, scheme: scheme,
                                                testFraction: testFraction, seed: seed)
        return try SoftmaxTrainer(train: mine.train, test: mine.test, shuffleSalt: UInt64(partition.index))
    }

    public func train(global: consuming Model, config: TrainingConfig, round: Int) async throws -> TrainingResult {
        try trainSync(global: global, config: config, round: round)
    }

    public func validate(global: Model) async throws -> ValidationResult {
        try validateSync(global: global)
    }

    /// Synchronous core of `train` (CPU-bound and short; callers on a shared executor may
    /// want to run it in a detached task for large data).
    public func trainSync(global: Model, config: TrainingConfig, round: Int) throws(TrainerError) -> TrainingResult {
        try config.check()
        let start = try SoftmaxRegression(model: global)
        guard start.isFinite else { throw .modelMismatch("the global model has NaN or infinite values") }
        guard trainData.count > 0 else { throw .invalidData("this client has no training examples") }

        var model = start
        let n = trainData.count
        let d = model.inputCount
        let k = model.classCount
        let lr = Float(config.learningRate)
        let mu = Float(config.proximalMu ?? 0)
        var rng = SeededRandom(seed: SeededRandom.mix(config.seed, UInt64(bitPattern: Int64(round)), shuffleSalt))
        var order = Array(0..<n)
        var gW = [Float](repeating: 0, count: model.weight.count)
        var gB = [Float](repeating: 0, count: model.bias.count)
        var scratch = [Float](repeating: 0, count: k)
        var epochLoss = 0.0
        var epochCorrect = 0

        for _ in 0..<config.localEpochs {
            rng.shuffle(&order)
            epochLoss = 0
            epochCorrect = 0
            var batchStart = 0
            while batchStart < n {
                let batchEnd = min(n, batchStart + config.batchSize)
                let scale = lr / Float(batchEnd - batchStart)
                for i in gW.indices { gW[i] = 0 }
                for i in gB.indices { gB[i] = 0 }
                let (loss, correct) = model.weight.withUnsafeBufferPointer { w in
                    model.bias.withUnsafeBufferPointer { b in
                        trainData.features.withUnsafeBufferPointer { x in
                            trainData.labels.withUnsafeBufferPointer { y in
                                order.withUnsafeBufferPointer { o in
                                    scratch.withUnsafeMutableBufferPointer { z in
                                        gW.withUnsafeMutableBufferPointer { gw in
                                            gB.withUnsafeMutableBufferPointer { gb in
                                                SoftmaxRegression.accumulate(
                                                    w: w, b: b, x: x, y: y, rows: o[batchStart..<batchEnd],
                                                    inputCount: d, classCount: k, scratch: z, gradW: gw, gradB: gb)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                epochLoss += loss
                epochCorrect += correct
                // θ ← θ − lr·(mean gradient + μ(θ − θ_global)).
                Self.step(&model.weight, gradient: gW, anchor: start.weight, scale: scale, lr: lr, mu: mu)
                Self.step(&model.bias, gradient: gB, anchor: start.bias, scale: scale, lr: lr, mu: mu)
                batchStart = batchEnd
            }
        }
        guard model.isFinite else {
            throw TrainerError(.diverged, "parameters became NaN or infinite (learning_rate \(config.learningRate) may be too high)")
        }

        // Running means over the last epoch (each batch measured before its update), as
        // usual for SGD; the proximal term is left out so FedAvg and FedProx runs compare.
        let metrics = [
            "train_loss": epochLoss / Double(n),
            "train_accuracy": Double(epochCorrect) / Double(n),
        ]
        return TrainingResult(model: try model.model(into: global), numExamples: n, metrics: metrics)
    }

    /// Synchronous core of `validate`: accuracy and mean cross-entropy on this client's test
    /// share.
    public func validateSync(global: Model) throws(TrainerError) -> ValidationResult {
        let model = try SoftmaxRegression(model: global)
        guard testData.count > 0 else { throw .invalidData("this client has no test examples to validate on") }
        let e = model.evaluate(testData)
        return ValidationResult(numExamples: testData.count, metrics: ["accuracy": e.accuracy, "loss": e.loss])
    }

    @inline(__always)
    static func step(_ theta: inout [Float], gradient: [Float], anchor: [Float], scale: Float, lr: Float, mu: Float) {
        theta.withUnsafeMutableBufferPointer { t in
            gradient.withUnsafeBufferPointer { g in
                anchor.withUnsafeBufferPointer { a in
                    if mu == 0 {
                        for i in 0..<t.count { t[i] -= scale * g[i] }
                    } else {
                        let lrMu = lr * mu
                        for i in 0..<t.count { t[i] -= scale * g[i] + lrMu * (t[i] - a[i]) }
                    }
                }
            }
        }
    }
}
