import Foundation
import Testing
import TributaryModel

/// Octomil's Python SDK from PyPI, unmodified, is a client of the device API: a controller
/// alone (a devices-only network) and Tests/devices/octomil_sdk_e2e.py, which drives
/// `FederatedClient` through registration, weights uploads (stored, then in a round), round
/// assignment and status, model pulls and personalization. Needs `.venv/octomil`
/// (scripts/setup.sh).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OctomilSDKTests {
    static let python = TestNetwork.virtualenvPython("octomil")

    @Test(.enabled(if: python != nil, "no .venv/octomil (octomil from PyPI): run scripts/setup.sh"))
    func octomilsFederatedClientWorksUnmodified() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController()
        try await net.waitHealthy()
        let seed = net.directory.appendingPathComponent("seed.npz")
        try NPZ.write(TestNetwork.tinySeed, to: seed)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed.path, "--name", "seed"]) == 0)
        let script = TestNetwork.repositoryRoot.appendingPathComponent("Tests/devices/octomil_sdk_e2e.py").path
        let run = try await net.runProgram(try #require(Self.python), [script, net.controllerURL.absoluteString], log: "octomil", timeout: .seconds(120))
        #expect(run.finished && run.status == 0, "octomil_sdk_e2e.py (exit \(run.status)):\n\(run.output)\n\(net.log("controller").suffix(4000))")
        #expect(run.output.contains("1 passed, 0 failed"), "\(run.output)")
    }
}
