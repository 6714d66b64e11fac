import Testing
import TributaryModel
@testable import TributaryClient

@Suite struct SoftmaxTrainerTests {
    static let dataset = try! DigitsDataset.load()

    @Test func initialModelIsSeededAndHasTheRightLayout() throws {
        let a = SoftmaxRegression.initialModel(seed: 5)
        #expect(a == SoftmaxRegression.initialModel(seed: 5))
        #expect(a != SoftmaxRegression.initialModel(seed: 6))
        #expect(a.spec == SoftmaxRegression.spec())
        #expect(a.spec.tensors.map(\.name) == ["dense.weight", "dense.bias"])
        #expect(a.spec.tensors.map(\.shape) == [[10, 64], [10]])
        #expect(try a.float32s("dense.bias").allSatisfy { $0 == 0 })
        let w = try a.float32s("dense.weight")
        let std = (w.map { Double($0 * $0) }.reduce(0, +) / Double(w.count)).squareRoot()
        #expect(std > 0.005 && std < 0.02)
    }

    @Test func centralizedTrainingLearnsTheDigits() async throws {
        let split = try DataPartition.trainTestSplit(count: Self.dataset.count)
        let trainer = try SoftmaxTrainer(train: Self.dataset.subset(split.train), test: Self.dataset.subset(split.test))
        let start = SoftmaxRegression.initialModel(seed: 0)
        let before = try await trainer.validate(global: start)
        let config = TrainingConfig(localEpochs: 20, batchSize: 32, learningRate: 0.5, seed: 1)
        let clock = ContinuousClock()
        let t0 = clock.now
        let result = try await trainer.train(global: start, config: config, round: 0)
        let elapsed = clock.now - t0
        let after = try await trainer.validate(global: result.model)
        print("centralized softmax: test accuracy \(before.metrics["accuracy"]!) -> \(after.metrics["accuracy"]!), "
            + "loss \(after.metrics["loss"]!), train_loss \(result.metrics["train_loss"]!), train_accuracy \(result.metrics["train_accuracy"]!), "
            + "\(config.localEpochs) epochs × \(result.numExamples) examples in \(elapsed)")
        #expect(result.numExamples == split.train.count)
        #expect(after.numExamples == split.test.count)
        #expect(after.metrics["accuracy"]! >= 0.9)
        #expect(after.metrics["loss"]! < before.metrics["loss"]!)
        #expect(result.metrics["train_accuracy"]! > 0.9)
        #expect(result.model.spec == start.spec)
    }

    @Test func trainingIsDeterministicPerSeedAndRound() async throws {
        let trainer = try SoftmaxTrainer.digits(partition: PartitionSpec(index: 1, count: 5))
        let g = SoftmaxRegression.initialModel(seed: 1)
        let config = TrainingConfig(localEpochs: 2, batchSize: 16, learningRate: 0.1, seed: 3)
        let a = try await trainer.train(global: g, config: config, round: 4)
        let b = try await trainer.train(global: g, config: config, round: 4)
        let c = try await trainer.train(global: g, config: config, round: 5)
        #expect(a.model == b.model)
        #expect(a.metrics == b.metrics)
        #expect(a.model != c.model)
        #expect(a.model != g)
    }

    @Test func proximalTermKeepsTheModelNearTheGlobal() async throws {
        let trainer = try SoftmaxTrainer.digits(partition: PartitionSpec(index: 0, count: 4))
        let g = SoftmaxRegression.initialModel(seed: 1)
        func distance(_ m: Model) throws -> Double {
            let a = try SoftmaxRegression(model: m), b = try SoftmaxRegression(model: g)
            return zip(a.weight + a.bias, b.weight + b.bias).map { Double(($0 - $1) * ($0 - $1)) }.reduce(0, +)
        }
        var config = TrainingConfig(localEpochs: 3, learningRate: 0.2)
        let plain = try await trainer.train(global: g, config: config, round: 0)
        config.proximalMu = 1.0
        let prox = try await trainer.train(global: g, config: config, round: 0)
        #expect(try distance(prox.model) < distance(plain.model))
    }

    @Test func rejectsAMismatchedModel() async throws {
        let trainer = try SoftmaxTrainer.digits(partition: PartitionSpec(index: 0, count: 2))
        let wrong = try Model(float32: [
            (name: "dense.weight", shape: [10, 32], values: [Float](repeating: 0, count: 320)),
            (name: "dense.bias", shape: [10], values: [Float](repeating: 0, count: 10)),
        ])
        let extra = try Model(float32: [
            (name: "dense.weight", shape: [10, 64], values: [Float](repeating: 0, count: 640)),
            (name: "dense.bias", shape: [10], values: [Float](repeating: 0, count: 10)),
            (name: "other", shape: [1], values: [0]),
        ])
        for m in [wrong, extra] {
            await #expect { _ = try await trainer.train(global: m, config: TrainingConfig(), round: 0) } throws: {
                ($0 as? TrainerError)?.kind == .modelMismatch
            }
            await #expect { _ = try await trainer.validate(global: m) } throws: {
                ($0 as? TrainerError)?.kind == .modelMismatch
            }
        }
    }

    @Test func rejectsABadConfig() async throws {
        let trainer = try SoftmaxTrainer.digits(partition: PartitionSpec(index: 0, count: 2))
        let g = SoftmaxRegression.initialModel(seed: 0)
        for config in [TrainingConfig(batchSize: 0), TrainingConfig(learningRate: -1), TrainingConfig(proximalMu: -1)] {
            await #expect { _ = try await trainer.train(global: g, config: config, round: 0) } throws: {
                ($0 as? TrainerError)?.kind == .invalidConfig
            }
        }
    }

    /// Analytic gradient (incl. the FedProx term) against central finite differences of the
    /// loss on a tiny batch.
    @Test(arguments: [0.0, 0.7])
    func gradientMatchesFiniteDifferences(mu: Double) throws {
        var r = SeededRandom(seed: 11)
        var model = SoftmaxRegression()
        var anchor = SoftmaxRegression()
        for i in model.weight.indices {
            model.weight[i] = Float(0.3 * r.normal())
            anchor.weight[i] = Float(0.3 * r.normal())
        }
        for i in model.bias.indices {
            model.bias[i] = Float(0.3 * r.normal())
            anchor.bias[i] = Float(0.3 * r.normal())
        }
        let rows = [3, 17, 40]
        let data = Self.dataset
        let (_, gW, gB) = model.lossAndGradient(data, rows: rows, anchor: anchor, mu: mu)
        let eps: Float = 1e-2
        func numeric(_ perturb: (inout SoftmaxRegression, Float) -> Void) -> Double {
            var plus = model, minus = model
            perturb(&plus, eps)
            perturb(&minus, -eps)
            let lp = plus.lossAndGradient(data, rows: rows, anchor: anchor, mu: mu).loss
            let lm = minus.lossAndGradient(data, rows: rows, anchor: anchor, mu: mu).loss
            return (lp - lm) / Double(2 * eps)
        }
        var checked = 0
        for i in stride(from: 0, to: model.weight.count, by: 7) where data.features[rows[0] * 64 + i % 64] != 0 || i % 3 == 0 {
            let n = numeric { $0.weight[i] += $1 }
            #expect(abs(n - Double(gW[i])) < 2e-3 + 1e-2 * abs(n), "weight \(i): numeric \(n) analytic \(gW[i])")
            checked += 1
        }
        for c in 0..<10 {
            let n = numeric { $0.bias[c] += $1 }
            #expect(abs(n - Double(gB[c])) < 2e-3 + 1e-2 * abs(n), "bias \(c): numeric \(n) analytic \(gB[c])")
        }
        #expect(checked > 20)
    }

    @Test func lossOfUniformPredictionIsLog10() {
        let model = SoftmaxRegression()  // all zeros: p = 1/10 for every class
        let e = model.evaluate(Self.dataset)
        #expect(abs(e.loss - 2.302585092994046) < 1e-5)
    }
}
