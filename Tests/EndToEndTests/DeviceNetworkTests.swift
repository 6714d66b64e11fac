import Foundation
import Testing

/// HTTP devices and nng clients in one round of a real network: the controller, 2 combiners
/// and 4 nng clients (an external trainer that keeps what it sent) as processes, and six
/// devices in a plain-HTTP Python script (Tests/devices/devices_e2e.py, requests + NumPy)
/// that checks the stored model against the flat weighted FedAvg of all ten updates, a NaN
/// refusal recorded as a status, a duplicate's 409, a min_devices timeout and a cancel.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DeviceNetworkTests {
    static let python = TestNetwork.virtualenvPython("apiclient")

    @Test(.enabled(if: python != nil, "no .venv/apiclient (requests, numpy): run scripts/setup.sh"))
    func devicesAndNNGClientsShareOneExactRound() async throws {
        guard ScriptedTrainer.ready() else { return }
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController(extra: ["--device-round-min-timeout", "5"])
        try await net.waitHealthy()
        for i in 0..<2 { try net.startCombiner("combiner-\(i)") }
        try await net.waitOnline(combiners: 2)
        try net.uploadTinySeed()
        let trainer = TestNetwork.repositoryRoot.appendingPathComponent("Tests/peers/oracle_train.py").path
        let kept = net.directory.appendingPathComponent("updates").path
        for i in 0..<4 {
            try net.startClient("c\(i)", partition: "0/1", extra: ["--train-command", "python3 \(trainer) {in} {out} \(i) 0.05 \(50 * (i + 1)) \(kept)"])
        }
        try await net.waitOnline(combiners: 2, clients: 4)
        let script = TestNetwork.repositoryRoot.appendingPathComponent("Tests/devices/devices_e2e.py").path
        let run = try await net.runProgram(try #require(Self.python), [script, net.controllerURL.absoluteString, kept, "4"], log: "devices", timeout: .seconds(200))
        #expect(run.finished && run.status == 0, "devices_e2e.py (exit \(run.status)):\n\(run.output)\n\(net.log("controller").suffix(6000))")
        #expect(run.output.contains("1 passed, 0 failed"), "\(run.output)")
    }
}
