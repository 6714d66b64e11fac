import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TributaryModel

/// Secure aggregation with the real executables: two combiners, each running SecAgg+ for its
/// cohort of Swift clients (external trainers that add a known delta) and Python participants
/// written from the README's protocol description (Tests/secagg/participant.py, `cryptography`).
@Suite(.serialized, .timeLimit(.minutes(6)))
struct SecureAggregationTests {
    /// Client i adds 0.01·(i + 1) to every value and reports 10·(i + 1) examples.
    static func delta(_ i: Int) -> Double { 0.01 * Double(i + 1) }
    static func examples(_ i: Int) -> Int { 10 * (i + 1) }

    /// base + Σ nᵢδᵢ / Σ nᵢ over `members`, for every value (`base`: the round's model_in).
    static func fedAvg(_ base: Model, _ members: [(delta: Double, examples: Int)]) -> [Double] {
        let total = Double(members.map(\.examples).reduce(0, +))
        let shift = members.reduce(0.0) { $0 + $1.delta * Double($1.examples) } / total
        return values(base).map { $0 + shift }
    }

    static func values(_ model: Model) -> [Double] {
        model.data.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { Double(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self)) } }
    }

    /// The README's bound k·max_weight·2c/Q ÷ Σ w per cohort, summed (defaults c = 8, Q = 2²², max_weight = 1000), plus float32 rounding.
    static func bound(cohorts: [[(delta: Double, examples: Int)]]) -> Double {
        let total = Double(cohorts.joined().map(\.examples).reduce(0, +))
        return cohorts.reduce(0.0) { $0 + Double($1.count) * 1000 * 16 / 4_194_304 } / total + 1e-5
    }

    @Test("Two combiners, Swift and Python participants: each round's model is the plain weighted FedAvg within the stated bound; a participant lost after stage 2 is recovered; a cohort with too few survivors fails cleanly while the round goes on",
          .enabled(if: TestNetwork.virtualenvPython("secagg") != nil, "no .venv/secagg: run scripts/setup.sh"))
    func secureRounds() async throws {
        guard ScriptedTrainer.ready() else { return }
        let python = try #require(TestNetwork.virtualenvPython("secagg"))
        let participant = TestNetwork.repositoryRoot.appendingPathComponent("Tests/secagg/participant.py").path
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController()
        try await net.waitHealthy()
        for i in 0..<2 { try net.startCombiner("combiner-\(i)") }
        try await net.waitOnline(combiners: 2)
        // 40 values and 64-byte chunks: the Swift clients send their 41-element masked vectors in
        // three parts, the Python participant in one message — both paths in one cohort.
        let seed = net.directory.appendingPathComponent("seed40.npz")
        try NPZ.write(try Model(float32: [("w", [40], (0..<40).map { Float($0) / 10 })]), to: seed)
        _ = try net.output("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed.path])
        let script = try ScriptedTrainer.install(in: net.directory)
        // combiner-0: clients 0–4; combiner-1: clients 5–8 and the Python participant py-9.
        for i in 0..<9 {
            try net.startClient("client-\(i)", partition: "0/1",
                                extra: ["--combiner", "combiner-\(i < 5 ? 0 : 1)"] + ScriptedTrainer.command(script, delta: Self.delta(i), examples: Self.examples(i)))
        }
        try net.startProgram("py-9", python, [participant, "--controller", net.controllerURL.absoluteString, "--client-id", "py-9",
                                              "--combiner", "combiner-1", "--delta", "\(Self.delta(9))", "--examples", "\(Self.examples(9))", "--timeout", "600"])
        try await net.waitOnline(combiners: 2, clients: 10)
        let members = (0..<10).map { (delta: Self.delta($0), examples: Self.examples($0)) }

        // 1. Everyone takes part.
        let first = try await Self.run(net, ["timeout": 10])
        try Self.expectModel(try await net.downloadModel(first.modelOut), Self.fedAvg(first.modelIn, members), within: Self.bound(cohorts: [Array(members[0..<5]), Array(members[5..<10])]))
        #expect(net.log("client-0").contains("parts=3"), "the masked vector did not go in parts:\n\(net.log("client-0").suffix(1500))")
        #expect(first.contributors == ["combiner-0": Set((0..<5).map { "client-\($0)" }), "combiner-1": Set((5..<9).map { "client-\($0)" } + ["py-9"])], "\(first.contributors)")

        // 2. py-10 sends its masked vector and is gone before unmasking: its seed comes back from its neighbours' shares.
        try net.startProgram("py-10", python, [participant, "--controller", net.controllerURL.absoluteString, "--client-id", "py-10",
                                               "--combiner", "combiner-1", "--delta", "0.5", "--examples", "100", "--drop-after", "masked", "--timeout", "600"])
        try await net.waitOnline(combiners: 2, clients: 11)
        let second = try await Self.run(net, ["timeout": 5])
        let withDropped = members + [(delta: 0.5, examples: 100)]
        try Self.expectModel(try await net.downloadModel(second.modelOut), Self.fedAvg(second.modelIn, withDropped),
                             within: Self.bound(cohorts: [Array(withDropped[0..<5]), Array(withDropped[5...])]))
        #expect(net.log("py-10").contains("dropped after masked"), "\(net.log("py-10"))")

        // 3. py-11 shares its secrets and is gone before masking; with every neighbour needed (t = s = 5),
        // combiner-1's cohort cannot unmask and fails; the round goes on with combiner-0's cohort alone.
        net.signal("py-10", SIGKILL)
        try await net.waitOnline(combiners: 2, clients: 10)   // py-10 is offline, so not selected again
        try net.startProgram("py-11", python, [participant, "--controller", net.controllerURL.absoluteString, "--client-id", "py-11",
                                               "--combiner", "combiner-1", "--delta", "0.7", "--examples", "70", "--drop-after", "bundles", "--timeout", "600"])
        try await net.waitOnline(combiners: 2, clients: 11)
        let third = try await Self.run(net, ["timeout": 5, "num_shares": 5, "reconstruction_threshold": 5])
        try Self.expectModel(try await net.downloadModel(third.modelOut), Self.fedAvg(third.modelIn, Array(members[0..<5])), within: Self.bound(cohorts: [Array(members[0..<5])]))
        let failed = try #require(third.reports.first { $0["name"] as? String == "combiner-1" })
        #expect(failed["status"] as? String != "Success" && "\(failed)".contains("secure aggregation failed"), "\(failed)")
        #expect(third.contributors["combiner-0"] == Set((0..<5).map { "client-\($0)" }))
    }

    struct Outcome {
        var modelIn: Model
        var modelOut: String
        var contributors: [String: Set<String>]
        var reports: [[String: Any]]
    }

    /// Runs a one-round session with `secure` as its secure_aggregation; expects it Finished.
    static func run(_ net: TestNetwork, _ secure: [String: Any]) async throws -> Outcome {
        let id = try await net.startSession(["rounds": 1, "round_timeout": 60, "validate": false, "chunk_size": 64, "secure_aggregation": secure])
        let status = try await net.waitSessionEnd(id, timeout: .seconds(120))
        try #require(status == "Finished", "session \(status):\n\(net.log("controller").suffix(3000))\n\(net.log("combiner-1").suffix(3000))")
        let round = try #require(try await net.rounds(id).first)
        let reports = round["combiners"] as? [[String: Any]] ?? []
        var contributors: [String: Set<String>] = [:]
        for report in reports { if let name = report["name"] as? String { contributors[name] = Set(report["clients"] as? [String] ?? []) } }
        return Outcome(modelIn: try await net.downloadModel(try #require(round["model_in"] as? String)), modelOut: try #require(round["model_out"] as? String),
                       contributors: contributors, reports: reports)
    }

    static func expectModel(_ model: Model, _ expected: [Double], within bound: Double, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let got = values(model)
        for (g, e) in zip(got, expected) { #expect(abs(g - e) <= bound, "got \(got), expected \(expected) ± \(bound)", sourceLocation: sourceLocation) }
    }
}
