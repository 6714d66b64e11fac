import Testing
@testable import TributaryModel

@Suite struct RobustAggregationTests {
    typealias F = StrategyFixtures

    static func floats(_ m: Model) throws -> [Double] { try m.float32s("v").map(Double.init) }

    @Test func medianOddAndEven() throws {
        var u = try [[1, 5, -2], [3, 0, 7], [2, 9, 4]].map { try F.vector($0) }
        // Columns {1,3,2} {5,0,9} {−2,7,4} → 2, 5, 4.
        #expect(try Self.floats(FedMedian.aggregate(u)) == [2, 5, 4])
        u.append(try F.vector([10, -1, 4]))
        // {0,1,2,3}+10 → (2+3)/2; {−1,0,5,9} → (0+5)/2; {−2,4,4,7} → (4+4)/2.
        #expect(try Self.floats(FedMedian.aggregate(u)) == [2.5, 2.5, 4])
    }

    @Test func medianOfMixedDTypes() throws {
        let u = try [([1, 10], 3), ([2, 20], 1), ([4, 40], 2), ([8, 80], 100)].map { try F.mixed($0.0, Float($0.1)) }
        #expect(F.values(try FedMedian.aggregate(u)) == [3, 30, 2.5])
    }

    @Test func trimmedMeanWithTies() throws {
        // n = 5, β = 0.2 → k = ⌊1.0⌋ = 1 from each side.
        let u = try [[1, 4, -3], [1, 4, 2], [1, 4, 2], [5, 4, 2], [9, 4, 100]].map { try F.vector($0) }
        // {1,1,1,5,9} → (1+1+5)/3; {4,…} → 4; {−3,2,2,2,100} → 2.
        F.expectClose(try Self.floats(FedTrimmedAvg.aggregate(u)), [7.0 / 3, 4, 2])
        // β = 0.4 → k = 2: the middle value only.
        F.expectClose(try Self.floats(FedTrimmedAvg.aggregate(u, beta: 0.4)), [1, 4, 2])
        // n = 4, β = 0.2 → k = 0: the plain mean.
        F.expectClose(try Self.floats(FedTrimmedAvg.aggregate(Array(u.prefix(4)))), [2, 4, 0.75])
        #expect(throws: StrategyError.self) { try FedTrimmedAvg.aggregate(u, beta: 0.5) }
    }

    /// u0..u3 near the origin, u4 = (10, 10). d01 = 1, d02 = 4, d03 = 5, d04 = 200, d12 = 5,
    /// d13 = 2, d14 = 181, d23 = 5, d24 = 164, d34 = 145; f = 1 → c = 5 − 1 − 2 = 2 nearest.
    static func krumUpdates() throws -> [Model] {
        try [[0, 0], [1, 0], [0, 2], [2, 1], [10, 10]].map { try F.vector($0) }
    }

    @Test func krumScoresAndSelection() throws {
        let u = try Self.krumUpdates()
        // s0 = 1+4, s1 = 1+2, s2 = 4+5, s3 = 2+5, s4 = 145+164.
        #expect(try Krum.scores(u, numMalicious: 1) == [5, 3, 9, 7, 309])
        #expect(try Krum.select(u, numMalicious: 1, count: 5) == [1, 0, 3, 2, 4])
        let chosen = try Krum.krum(u, numMalicious: 1)
        #expect(chosen == u[1])
        #expect(chosen != u[4])
    }

    @Test func multiKrumAveragesTheBestMWeightedByExamples() throws {
        let u = try Self.krumUpdates()
        let w: [Double] = [10, 20, 30, 40, 50]
        // m = 3 keeps u1, u0, u3: (20·(1,0) + 10·(0,0) + 40·(2,1)) / 70 = (100/70, 40/70).
        F.expectClose(try Self.floats(Krum.multiKrum(u, weights: w, numMalicious: 1, numToKeep: 3)), [100.0 / 70, 40.0 / 70])
        // Default m = n − f = 4 keeps everything but the outlier.
        F.expectClose(try Self.floats(Krum.multiKrum(u, weights: w, numMalicious: 1)), [(20 + 80 + 0 + 0) / 100.0, (60 + 40) / 100.0])
        #expect(throws: StrategyError.self) { try Krum.multiKrum(u, weights: w, numMalicious: 1, numToKeep: 6) }
        #expect(throws: StrategyError.self) { try Krum.multiKrum(u, weights: [1], numMalicious: 1) }
    }

    /// n = 7, f = 1: θ = 5 chosen by repeated Krum (c = n' − 3 nearest), β = 3 averaged per
    /// coordinate. The two outliers (50, −50) and (−1, 30) are never chosen; the chosen order
    /// (first-pass scores 36, 22, 25, 33, 36, 19640, 3241 → u1 first) is [1, 2, 3, 0, 4].
    @Test func bulyanSevenUpdatesOneByzantine() throws {
        let u = try [[0, 1], [1, 2], [2, 0], [3, 3], [4, 1], [50, -50], [-1, 30]].map { try F.vector($0) }
        #expect(try Krum.scores(u, numMalicious: 1) == [36, 22, 25, 33, 36, 19640, 3241])
        #expect(try Bulyan.select(u, numMalicious: 1) == [1, 2, 3, 0, 4])
        // Coordinate 0: {1,2,3,0,4}, median 2, closest 2,1,3 → 2.
        // Coordinate 1: {2,0,3,1,1}, median 1, closest 1,1 then the tie 2|0 → 2 (selected
        // earlier) → 4/3.
        F.expectClose(try Self.floats(Bulyan.aggregate(u, numMalicious: 1)), [2, 4.0 / 3])
    }

    @Test func bulyanNeedsFourFPlusThree() throws {
        let u = try (0..<6).map { try F.vector([Float($0)]) }
        #expect(throws: StrategyError.tooFewUpdates(rule: "bulyan", needed: 7, got: 6, reason: "n ≥ 4f + 3 with f = 1")) {
            try Bulyan.aggregate(u, numMalicious: 1)
        }
        // f = 0: θ = β = n, the plain mean.
        F.expectClose(try Self.floats(Bulyan.aggregate(u, numMalicious: 0)), [2.5])
    }

    @Test func refusesEmptyMismatchedAndIntegerInputs() throws {
        #expect(throws: StrategyError.model(.noUpdates)) { try FedMedian.aggregate([]) }
        #expect(throws: StrategyError.self) { try FedMedian.aggregate([F.vector([1]), F.vector([1, 2])]) }
        let ints = try Model(zeros: ModelSpec(tensors: [TensorSpec(name: "i", dtype: .int64, shape: [1])]))
        #expect(throws: StrategyError.model(.unsupportedDType(.int64))) { try Krum.scores([ints, ints], numMalicious: 0) }
    }
}
