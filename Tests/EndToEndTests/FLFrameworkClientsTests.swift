import Foundation
import HummingbirdWSClient
import Logging
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

        // A watcher on the API's event stream; a second connection under the same client id is refused.
        let events = "ws://127.0.0.1:\(net.httpPort)/fl/ws/events?client_id=watcher"
        let seen = Seen()
        let watcher = Task {
            try await WebSocketClient.connect(url: events, logger: Logger(label: "fl-ws")) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    await seen.add(text)
                    if text.contains("\"session_completed\"") { return }
                }
            }
        }
        defer { watcher.cancel() }
        try await Task.sleep(for: .milliseconds(500))
        // The handler runs only for an accepted connection.
        for (url, accepted) in [(events, false), ("ws://127.0.0.1:\(net.httpPort)/fl/ws/events?client_id=other", true)] {
            let opened = Seen()
            _ = try? await WebSocketClient.connect(url: url, logger: Logger(label: "fl-ws-2")) { _, _, _ in await opened.add("open") }
            #expect(await opened.texts.isEmpty != accepted, "\(url): accepted \(!accepted), expected \(accepted)")
        }

        let digits = TestNetwork.repositoryRoot.appendingPathComponent("Sources/TributaryClient/Resources/digits.csv").path
        let script = TestNetwork.repositoryRoot.appendingPathComponent("Tests/flframework/fl_clients_e2e.py").path
        let run = try await net.runProgram(try #require(Self.python), [script, net.controllerURL.absoluteString + "/fl", digits, "2"],
                                          log: "fl-clients", timeout: .seconds(300))
        #expect(run.finished && run.status == 0, "fl_clients_e2e.py (exit \(run.status)):\n\(run.output)\n\(net.log("controller"))")
        #expect(run.output.contains("1 passed, 0 failed"), "\(run.output)")
        _ = await net.waitFor(timeout: .seconds(10)) { await seen.texts.contains { $0.contains("\"session_completed\"") } }
        let texts = await seen.texts
        #expect(texts.contains { $0.contains("\"client_update\"") && $0.contains("\"fl-a\"") }, "no client_update event for fl-a")
        #expect(texts.filter { $0.contains("\"round_completed\"") && $0.contains("exp_e2e") }.count == 3, "round_completed events")
    }

    private actor Seen {
        var texts: [String] = []
        func add(_ text: String) { texts.append(text) }
    }
}
