import TributaryModel
import Testing
@testable import TributaryClient

@Suite struct DataPartitionTests {
    static let dataset = try! DigitsDataset.load()

    static func indices(_ scheme: PartitionScheme, clients: Int, seed: UInt64 = 42) throws -> (train: [[Int]], test: [[Int]]) {
        try DataPartition.clientIndices(labels: dataset.labels, classCount: 10, clients: clients, scheme: scheme, seed: seed)
    }

    @Test func testSplitIsSeededAndDisjoint() throws {
        let a = try DataPartition.trainTestSplit(count: 1_797)
        let b = try DataPartition.trainTestSplit(count: 1_797)
        let c = try DataPartition.trainTestSplit(count: 1_797, seed: 7)
        #expect(a.test.count == 359)
        #expect(a.train.count == 1_797 - 359)
        #expect(Set(a.train).isDisjoint(with: a.test))
        #expect(Set(a.train + a.test) == Set(0..<1_797))
        #expect(a.train == b.train && a.test == b.test)
        #expect(a.test != c.test)
    }

    @Test(arguments: [PartitionScheme.iid, .dirichlet(alpha: 0.5)])
    func partitionsAreDisjointAndCover(scheme: PartitionScheme) throws {
        let split = try DataPartition.trainTestSplit(count: Self.dataset.count)
        let p = try Self.indices(scheme, clients: 4)
        for (shares, whole) in [(p.train, split.train), (p.test, split.test)] {
            #expect(shares.count == 4)
            let flat = shares.flatMap { $0 }
            #expect(flat.count == whole.count, "no example twice")
            #expect(Set(flat) == Set(whole), "every example somewhere")
            #expect(shares.allSatisfy { !$0.isEmpty })
        }
    }

    @Test func iidSharesAreNearEqual() throws {
        let p = try Self.indices(.iid, clients: 7)
        for shares in [p.train, p.test] {
            let sizes = shares.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
    }

    @Test(arguments: [PartitionScheme.iid, .dirichlet(alpha: 0.5)])
    func deterministicForASeedAndDifferentAcrossSeeds(scheme: PartitionScheme) throws {
        let a = try Self.indices(scheme, clients: 5, seed: 1)
        let b = try Self.indices(scheme, clients: 5, seed: 1)
        let c = try Self.indices(scheme, clients: 5, seed: 2)
        #expect(a.train == b.train && a.test == b.test)
        #expect(a.train != c.train)
    }

    @Test func dirichletIsSkewed() throws {
        let p = try Self.indices(.dirichlet(alpha: 0.1), clients: 5)
        // With α = 0.1 most clients are dominated by few classes: some class is at least
        // half of some client's data (IID would give ~10%).
        let maxShare = p.train.map { share -> Double in
            var counts = [Int](repeating: 0, count: 10)
            for i in share { counts[Self.dataset.labels[i]] += 1 }
            return Double(counts.max()!) / Double(share.count)
        }.max()!
        #expect(maxShare >= 0.5)
    }

    @Test func tinyAlphaStillGivesEveryClientAnExample() throws {
        for seed: UInt64 in [1, 2, 3] {
            let p = try Self.indices(.dirichlet(alpha: 0.01), clients: 20, seed: seed)
            #expect(p.train.allSatisfy { !$0.isEmpty })
            #expect(p.test.allSatisfy { !$0.isEmpty })
            #expect(p.train.flatMap { $0 }.count == 1_797 - 359)
        }
    }

    @Test func clientDataMatchesIndices() throws {
        let spec = try PartitionSpec.parse("2/4")
        let p = try Self.indices(.dirichlet(alpha: 0.5), clients: 4)
        let mine = try DataPartition.clientData(Self.dataset, partition: spec, scheme: .dirichlet(alpha: 0.5))
        #expect(mine.train == Self.dataset.subset(p.train[2]))
        #expect(mine.test == Self.dataset.subset(p.test[2]))
    }

    @Test func weightedClientAccuracyEqualsWholeTestAccuracy() async throws {
        let split = try DataPartition.trainTestSplit(count: Self.dataset.count)
        let model = SoftmaxRegression.initialModel(seed: 3)
        let whole = try SoftmaxRegression(model: model).evaluate(Self.dataset.subset(split.test))
        var correct = 0.0
        var total = 0
        for i in 0..<3 {
            let trainer = try SoftmaxTrainer.digits(partition: PartitionSpec(index: i, count: 3), scheme: .dirichlet(alpha: 0.5))
            let v = try await trainer.validate(global: model)
            correct += v.metrics["accuracy"]! * Double(v.numExamples)
            total += v.numExamples
        }
        #expect(total == split.test.count)
        #expect(abs(correct / Double(total) - whole.accuracy) < 1e-9)
    }

    @Test func partitionSpecParsing() throws {
        let p = try PartitionSpec.parse("2/4")
        #expect(p.index == 2 && p.count == 4)
        #expect(p.description == "2/4")
        #expect(try PartitionSpec.parse(" 0 / 1 ") == PartitionSpec(index: 0, count: 1))
        for bad in ["4/4", "5/4", "-1/4", "1/0", "0/-2", "a/b", "1/2/3", "", "1", "/", "1/", "/2", "1.5/2"] {
            #expect(throws: TrainerError.self, "'\(bad)'") { _ = try PartitionSpec.parse(bad) }
            #expect(PartitionSpec(bad) == nil)
        }
    }

    @Test func schemeParsing() throws {
        #expect(try PartitionScheme.parse("iid") == .iid)
        #expect(try PartitionScheme.parse("dirichlet:0.5") == .dirichlet(alpha: 0.5))
        #expect(try PartitionScheme.parse("Dirichlet=2") == .dirichlet(alpha: 2))
        for bad in ["", "dirichlet", "dirichlet:0", "dirichlet:-1", "dirichlet:nan", "noniid"] {
            #expect(throws: TrainerError.self, "'\(bad)'") { _ = try PartitionScheme.parse(bad) }
        }
    }

    @Test func seededRandomIsReproducibleAndSane() {
        var a = SeededRandom(seed: 9)
        var b = SeededRandom(seed: 9)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var r = SeededRandom(seed: 1)
        let n = 20_000
        let g = (0..<n).map { _ in r.gamma(shape: 2.5) }
        let mean = g.reduce(0, +) / Double(n)
        #expect(abs(mean - 2.5) < 0.1)  // Gamma(k, 1) has mean k
        let small = (0..<n).map { _ in r.gamma(shape: 0.3) }.reduce(0, +) / Double(n)
        #expect(abs(small - 0.3) < 0.03)
        let p = r.dirichlet(alpha: 0.5, count: 6)
        #expect(abs(p.reduce(0, +) - 1) < 1e-12 && p.allSatisfy { $0 >= 0 })
        #expect((0..<1_000).allSatisfy { _ in (0..<7).contains(r.uniform(below: 7)) })
    }
}
