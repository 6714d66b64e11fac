import Foundation
import Testing
@testable import TributarySecAgg

/// Whole SecAgg+ rounds in one process: a cohort server and its participants.
@Suite("SecAgg+ cohort rounds")
struct CohortTests {
    static var config: SecAggConfig {
        var c = SecAggConfig()
        c.numShares = 5
        c.reconstructionThreshold = 3
        c.clippingRange = 1
        c.timeout = 5
        return c
    }

    struct Round {
        var cohort: SecAggCohort
        var participants: [String: SecAggParticipant]
        var values: [String: [Float]]
        var examples: [String: Int]
    }

    /// Runs stages 0–2 for everyone (minus `silentInStage2`, who never send their vector).
    static func runToUnmask(n: Int, length: Int = 50, silentInStage2: Set<String> = [], config: SecAggConfig = config) throws -> Round {
        let ids = (0..<n).map { "p\($0)" }
        var cohort = SecAggCohort(round: "job-1", config: config, participants: ids, values: length)
        var participants = Dictionary(uniqueKeysWithValues: ids.map { ($0, SecAggParticipant(id: $0, round: "job-1", config: config)) })
        for id in ids { try cohort.submitKeys(id, masking: participants[id]!.publicKeys.masking, sharing: participants[id]!.publicKeys.sharing) }
        #expect(cohort.stage == .shareKeys)
        for id in ids { try cohort.submitBundles(id, try participants[id]!.shareKeys(try #require(cohort.neighbours(of: id)))) }
        #expect(cohort.stage == .collectMasked)
        var values: [String: [Float]] = [:], examples: [String: Int] = [:]
        for (k, id) in ids.enumerated() {
            try participants[id]!.receive(try #require(cohort.bundles(for: id)))
            values[id] = (0..<length).map { Float(sin(Double($0 * (k + 3)))) * 0.01 }
            examples[id] = 10 * (k + 1)
            guard !silentInStage2.contains(id) else { continue }
            let vector = try participants[id]!.mask(values[id]!, examples: examples[id]!)
            try cohort.submitMasked(id, vector)
        }
        if !silentInStage2.isEmpty { cohort.advance(now: .now + .seconds(10)) }   // the silent ones' stage-2 deadline passes
        return Round(cohort: cohort, participants: participants, values: values, examples: examples)
    }

    static func unmask(_ round: inout Round, skipping: Set<String> = []) throws {
        for id in round.participants.keys.sorted() where !skipping.contains(id) {
            guard let request = round.cohort.unmaskRequest(for: id) else { continue }
            try round.cohort.submitUnmask(id, try round.participants[id]!.unmask(active: request.active, dropped: request.dropped))
        }
        round.cohort.advance(now: .now + .seconds(20))
    }

    /// Σ examplesᵢ·valuesᵢ over `ids`, and the documented bound k·max_weight·2c/Q per value.
    static func expected(_ round: Round, _ ids: [String]) -> (sum: [Double], weight: Double, bound: Double) {
        let length = round.values.values.first!.count
        var sum = [Double](repeating: 0, count: length)
        for id in ids { for j in 0..<length { sum[j] += Double(round.examples[id]!) * Double(round.values[id]![j]) } }
        let c = round.cohort.config
        return (sum, Double(ids.compactMap { round.examples[$0] }.reduce(0, +)), Double(ids.count) * c.maxWeight * 2 * c.clippingRange / Double(c.quantizationRange))
    }

    @Test("Everyone answers: the result is the example-weighted sum within the documented bound, and no submitted vector is the plain one")
    func fullParticipation() throws {
        var round = try Self.runToUnmask(n: 7)
        #expect(round.cohort.stage == .unmask)
        try Self.unmask(&round)
        let result = try #require(round.cohort.result, "\(round.cohort.failure ?? "")")
        let want = Self.expected(round, round.participants.keys.sorted())
        #expect(result.totalWeight == want.weight && result.participants.count == 7 && result.dropped.isEmpty)
        for j in want.sum.indices { #expect(abs(Double(result.weightedSum[j]) - want.sum[j]) <= want.bound, "value \(j)") }
        // What the server received from p0 is masked: far from p0's own quantized vector.
        let p0 = round.participants["p0"]!
        let masked = try p0.mask(round.values["p0"]!, examples: round.examples["p0"]!)
        let plainCentre = UInt32(round.cohort.config.quantizationRange / 2)
        let close = masked.dropFirst().filter { $0 > plainCentre - 1000 && $0 < plainCentre + 1000 }.count
        #expect(close < 3, "\(close) of \(masked.count - 1) masked values sit at the unmasked quantization level")
    }

    @Test("One participant lost after stage 2's share exchange: its pairwise masks are rebuilt from key shares and the survivors' sum comes out")
    func dropoutRecovered() throws {
        var round = try Self.runToUnmask(n: 7, silentInStage2: ["p3"])
        #expect(round.cohort.stage == .unmask && round.cohort.unmaskRequest(for: "p0")?.dropped == ["p3"])
        try Self.unmask(&round)
        let result = try #require(round.cohort.result, "\(round.cohort.failure ?? "")")
        let survivors = round.participants.keys.sorted().filter { $0 != "p3" }
        let want = Self.expected(round, survivors)
        #expect(result.dropped == ["p3"] && result.totalWeight == want.weight)
        for j in want.sum.indices { #expect(abs(Double(result.weightedSum[j]) - want.sum[j]) <= want.bound) }
    }

    @Test("Too many lost: the cohort fails cleanly with a reason, and later calls say so")
    func tooManyLost() throws {
        let round = try Self.runToUnmask(n: 5, silentInStage2: ["p0", "p1", "p2"])
        #expect(round.cohort.stage == .failed && round.cohort.result == nil)
        #expect(round.cohort.failure?.contains("too few masked vectors") == true)
        var cohort = round.cohort
        #expect(throws: SecAggError.self) { try cohort.submitMasked("p0", []) }
    }

    @Test("Hostile input is refused and changes nothing: unknown ids, duplicate keys, wrong bundle sets, wrong lengths, out-of-order calls, contradictory unmask requests")
    func hostile() throws {
        let config = Self.config
        var cohort = SecAggCohort(round: "r", config: config, participants: ["a", "b", "c"], values: 4)
        let a = SecAggParticipant(id: "a", round: "r", config: config), b = SecAggParticipant(id: "b", round: "r", config: config)
        #expect(throws: SecAggError.self) { try cohort.submitKeys("mallory", masking: a.publicKeys.masking, sharing: a.publicKeys.sharing) }
        #expect(throws: SecAggError.self) { try cohort.submitKeys("a", masking: "not-base64!", sharing: a.publicKeys.sharing) }
        try cohort.submitKeys("a", masking: a.publicKeys.masking, sharing: a.publicKeys.sharing)
        #expect(throws: SecAggError.self) { try cohort.submitKeys("a", masking: b.publicKeys.masking, sharing: b.publicKeys.sharing) }
        #expect(throws: SecAggError.self) { try cohort.submitKeys("b", masking: a.publicKeys.masking, sharing: b.publicKeys.sharing) }
        #expect(throws: SecAggError.self) { try cohort.submitBundles("a", [:]) }        // stage 1 not open
        #expect(throws: SecAggError.self) { try cohort.submitMasked("a", [0, 0, 0, 0, 0]) }
        #expect(cohort.counts["keys"] == 1 && cohort.stage == .advertiseKeys)

        var round = try Self.runToUnmask(n: 5, length: 4)
        let ids = round.participants.keys.sorted()
        // Stage 3 with a vector of the wrong length, or a second vector, is refused.
        #expect(throws: SecAggError.self) { try round.cohort.submitMasked(ids[0], [1, 2]) }
        // A participant refuses a neighbourhood with a duplicated key, and an unmask request naming a neighbour both ways.
        var fresh = SecAggParticipant(id: "x", round: "r", config: config)
        let me = SecAggNeighbour(id: "x", index: 1, maskingKey: fresh.publicKeys.masking, sharingKey: fresh.publicKeys.sharing)
        let twin = SecAggNeighbour(id: "y", index: 2, maskingKey: fresh.publicKeys.masking, sharingKey: b.publicKeys.sharing)
        let third = SecAggNeighbour(id: "z", index: 3, maskingKey: a.publicKeys.masking, sharingKey: a.publicKeys.sharing)
        #expect(throws: SecAggError.self) { _ = try fresh.shareKeys([me, twin, third]) }
        var p0 = round.participants[ids[0]]!
        #expect(throws: SecAggError.self) { _ = try p0.unmask(active: ids, dropped: [ids[1]]) }
        _ = try p0.unmask(active: ids, dropped: [])
        #expect(throws: SecAggError.self) { _ = try p0.unmask(active: [ids[0]], dropped: [ids[1]]) }  // contradicts the first answer
        // A bundle addressed to someone else does not open.
        var p1 = round.participants[ids[1]]!
        var forged = try #require(round.cohort.bundles(for: ids[1]))
        forged[ids[2]] = try #require(round.cohort.bundles(for: ids[3])?[ids[2]])
        #expect(throws: SecAggError.self) { try p1.receive(forged) }
    }
}
