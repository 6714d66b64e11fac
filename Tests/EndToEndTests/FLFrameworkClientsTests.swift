import Foundation
import Testing

/// The FL Framework API from outside: three Python clients written as the seed's `FLClient`
/// (Tests/flframework/fl_clients_e2e.py: requests + NumPy, real softmax training on the
/// bundled digits) register, start a 3-round experiment, and train beside two nng clients on
/// two combiners; the script then checks metrics and scores against what each client did.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct FLFrameworkClientsTests {
    /// requests and NumPy come with the FEDn virtualenv.
    static let python = TestNetwork.virtualenvPython("apiclient")

    @Test(.enabled(if: python != nil, "no .venv/apiclient (requests, numpy): run scripts/setup.sh"))
    func seedStyleClientsRunAnExperimentBesideNNGClients() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController()
        try await net.waitHealthy()
        for i in 0..<2 { try net.startCombiner("combiner-\(i)") }
        try await net.waitOnline(combiners: 2)
        let seed = net.directory.appendingPathComponent("seed.npz").path
        #expect(try net.runToEnd("tributary-client", ["seed-model", "--out", seed]) == 0)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed]) == 0)
        for i in 0..<2 { try net.startClient("client-\(i)", partition: "\(i)/2") }
        try await net.waitOnline(combiners: 2, clients: 2)

        let digits = TestNetwork.repositoryRoot.appendingPathComponent("Sources/TributaryClient/Resources/digits.csv").path
        let script = TestNetwork.repositoryRoot.appendingPathComponent("Tests/flframework/fl_clients_e2e.py").path
        let run = try await net.runProgram(try #require(Self.python), [script, net.controllerURL.absoluteString + "/fl", digits, "2"],
                                          log: "fl-clients", timeout: .seconds(300))
        #expect(run.finished && run.status == 0, "fl_clients_e2e.py (exit \(run.status)):\n\(run.output)\n\(net.log("controller"))")
        #expect(run.output.contains("1 passed, 0 failed"), "\(run.output)")
    }
}
