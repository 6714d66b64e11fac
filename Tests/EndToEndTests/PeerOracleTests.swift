import Foundation
import Testing

/// Every strategy against the peer's own code: a real two-combiner network (controller, 2
/// combiners, 7 clients whose external trainer adds seeded per-coordinate noise, one client an
/// outlier) runs a 2-round session per strategy; then Flower 1.42's strategy classes and FEDn
/// 0.33's fedopt aggregator, from their PyPI packages, recompute each round from the seed and
/// the very updates the clients sent (Tests/peers/peer_oracle.py), and every stored model must
/// match. Needs the `.venv/flwr` and `.venv/apiclient` virtualenvs made by scripts/setup.sh.
@Suite(.serialized, .timeLimit(.minutes(15)))
struct PeerOracleTests {
    struct Case: Sendable {
        var label: String
        var aggregator: String
        var kwargs: [String: any Sendable] = [:]
        var peer = "flower"
        var peerClass: String
        var peerKwargs: [String: any Sendable] = [:]
    }

    /// Tributary's kwargs beside the peer's, by each side's own names.
    static let cases: [Case] = [
        Case(label: "fedavg", aggregator: "fedavg", peerClass: "FedAvg"),
        Case(label: "fedprox", aggregator: "fedprox", kwargs: ["proximal_mu": 0.1], peerClass: "FedProx", peerKwargs: ["proximal_mu": 0.1]),
        Case(label: "fedadam", aggregator: "fedadam", peerClass: "FedAdam"),
        Case(label: "fedyogi", aggregator: "fedyogi", peerClass: "FedYogi"),
        Case(label: "fedadagrad", aggregator: "fedadagrad", peerClass: "FedAdagrad"),
        Case(label: "fedavgm", aggregator: "fedavgm", kwargs: ["server_learning_rate": 0.5, "server_momentum": 0.9],
             peerClass: "FedAvgM", peerKwargs: ["server_learning_rate": 0.5, "server_momentum": 0.9]),
        Case(label: "fedmedian", aggregator: "fedmedian", peerClass: "FedMedian"),
        Case(label: "fedtrimmedavg", aggregator: "fedtrimmedavg", peerClass: "FedTrimmedAvg"),
        Case(label: "krum", aggregator: "krum", kwargs: ["num_malicious_clients": 1], peerClass: "Krum", peerKwargs: ["num_malicious_nodes": 1]),
        Case(label: "multikrum", aggregator: "multikrum", kwargs: ["num_malicious_nodes": 1, "num_nodes_to_select": 3],
             peerClass: "MultiKrum", peerKwargs: ["num_malicious_nodes": 1, "num_nodes_to_select": 3]),
        Case(label: "multikrum-defaults", aggregator: "multikrum", peerClass: "MultiKrum"),
        Case(label: "bulyan", aggregator: "bulyan", kwargs: ["num_malicious_clients": 1], peerClass: "Bulyan", peerKwargs: ["num_malicious_nodes": 1]),
        // FEDn's own kwargs, exactly as a FEDn user passes them to APIClient.start_session.
        Case(label: "fedopt-adam", aggregator: "fedopt",
             kwargs: ["serveropt": "adam", "learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99, "tau": 1e-4],
             peer: "fedn", peerClass: "fedopt", peerKwargs: ["serveropt": "adam", "learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99, "tau": 1e-4]),
        Case(label: "fedopt-yogi", aggregator: "fedopt", kwargs: ["serveropt": "yogi", "learning_rate": 0.05],
             peer: "fedn", peerClass: "fedopt", peerKwargs: ["serveropt": "yogi", "learning_rate": 0.05]),
        Case(label: "fedopt-adagrad", aggregator: "fedopt", kwargs: ["serveropt": "adagrad", "learning_rate": 0.05],
             peer: "fedn", peerClass: "fedopt", peerKwargs: ["serveropt": "adagrad", "learning_rate": 0.05]),
    ]

    /// (noise scale, example count) per client; the last one is the outlier robust rules drop.
    static let clients: [(scale: Double, examples: Int)] = [(0.05, 100), (0.1, 300), (0.08, 50), (0.12, 200), (0.06, 80), (0.09, 120), (1.5, 60)]

    static let flower = TestNetwork.virtualenvPython("flwr")
    static let fedn = TestNetwork.virtualenvPython("apiclient")

    @Test(.enabled(if: flower != nil && fedn != nil, "needs .venv/flwr (flwr 1.42) and .venv/apiclient (fedn 0.33): run scripts/setup.sh"))
    func everyStrategyMatchesThePeersOwnCode() async throws {
        guard ScriptedTrainer.ready() else { return }
        let net = try TestNetwork()
        defer { net.stopAll() }
        let trainer = TestNetwork.repositoryRoot.appendingPathComponent("Tests/peers/oracle_train.py")
        let oracle = TestNetwork.repositoryRoot.appendingPathComponent("Tests/peers/peer_oracle.py")
        let kept = net.directory.appendingPathComponent("updates")
        try await net.startCore(combiners: 2)
        let seed = try #require(try await net.request("GET", "/api/v1/models/").body.flatMap { ($0 as? [String: Any])?["result"] as? [[String: Any]] }?.first?["model_id"] as? String)
        for (i, c) in Self.clients.enumerated() {
            try net.startClient("c\(i)", partition: "0/1", extra: ["--train-command", "python3 \(trainer.path) {in} {out} \(i) \(c.scale) \(c.examples) \(kept.path)"])
        }
        try await net.waitOnline(combiners: 2, clients: Self.clients.count)

        var manifests: [String: [String]] = [:]
        for c in Self.cases {
            let folder = net.directory.appendingPathComponent("oracle/\(c.label)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try await net.downloadFile("/api/v1/models/\(seed)/download?format=npz", to: folder.appendingPathComponent("seed.npz"))
            let session = try await net.startSession(["rounds": 2, "round_timeout": 60, "validate": false, "model_id": seed,
                                                      "aggregator": c.aggregator, "aggregator_kwargs": c.kwargs])
            try #require(try await net.waitSessionEnd(session, timeout: .seconds(120)) == "Finished", "\(c.label):\n\(net.log("controller"))")
            try FileManager.default.moveItem(at: kept.appendingPathComponent("current"), to: folder.appendingPathComponent("updates"))
            var rounds: [[String: Any]] = []
            for round in try await net.rounds(session) {
                let number = try #require(round["round_number"] as? Int)
                #expect(TestNetwork.contributors(round).count == Self.clients.count, "\(c.label) round \(number)")
                let reports = round["combiners"] as? [[String: Any]] ?? []
                #expect(reports.filter { $0["status"] as? String == "Success" }.count == 2, "\(c.label): both combiners took part")
                let model = "round\(number).npz"
                try await net.downloadFile("/api/v1/models/\(try #require(round["model_out"] as? String))/download?format=npz", to: folder.appendingPathComponent(model))
                let updates = Self.clients.indices.map { i in ["path": "updates/r\(number)/client-\(i).npz", "num_examples": Self.clients[i].examples] as [String: Any] }
                rounds.append(["round": number, "model": model, "updates": updates])
            }
            #expect(rounds.count == 2)
            let manifest: [String: Any] = ["label": c.label, "peer": c.peer, "peer_class": c.peerClass, "peer_kwargs": c.peerKwargs, "seed": "seed.npz", "rounds": rounds]
            let path = folder.appendingPathComponent("manifest.json")
            try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]).write(to: path)
            manifests[c.peer, default: []].append(path.path)
        }
        for (peer, python) in [("flower", Self.flower), ("fedn", Self.fedn)] {
            let run = try await net.runProgram(try #require(python), [oracle.path] + (manifests[peer] ?? []), log: "oracle-\(peer)", timeout: .seconds(300))
            #expect(run.finished && run.status == 0, "\(peer) oracle (exit \(run.status)):\n\(run.output)")
            #expect(run.output.contains("\(manifests[peer]?.count ?? 0) passed, 0 failed"), "\(run.output)")
        }
    }
}
