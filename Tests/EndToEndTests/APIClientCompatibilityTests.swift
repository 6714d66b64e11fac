import Foundation
import Testing

/// FEDn's own Python `APIClient` (PyPI fedn==0.33.0, unmodified) drives a real network — a
/// controller, 2 combiners and 4 built-in-trainer clients, each its own process — through
/// Tests/apiclient/apiclient_e2e.py: seed upload, a 2-round session, continuing it, and reading
/// everything back. scripts/setup.sh makes the virtualenv; without it (no PyPI) the test is skipped.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct APIClientCompatibilityTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = root.appendingPathComponent(".venv/apiclient/bin/python")
    static let script = root.appendingPathComponent("Tests/apiclient/apiclient_e2e.py")
    static let venvReady = FileManager.default.isExecutableFile(atPath: python.path)

    @Test(.enabled(if: venvReady, "no .venv/apiclient with fedn==0.33.0: run scripts/setup.sh (needs PyPI)"))
    func fednAPIClientDrivesASessionEndToEnd() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        let clients = 4, combiners = 2
        try net.startController()
        try await net.waitHealthy()
        for i in 0..<combiners { try net.startCombiner("combiner-\(i)") }
        try await net.waitOnline(combiners: combiners)
        for i in 0..<clients { try net.startClient("client-\(i)", partition: "\(i)/\(clients)") }
        try await net.waitOnline(combiners: combiners, clients: clients)

        // Output goes to a file, not a pipe, so a chatty run cannot block on a full pipe.
        let output = net.directory.appendingPathComponent("apiclient.log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = Self.python
        process.arguments = [Self.script.path, "--host", "127.0.0.1", "--port", "\(net.httpPort)",
                             "--clients", "\(clients)", "--combiners", "\(combiners)"]
        process.currentDirectoryURL = net.directory
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        // A guard against a hung request (the APIClient sets no timeouts), not a timing check.
        let finished = await net.waitFor(timeout: .seconds(420)) { !process.isRunning }
        if !finished { process.terminate() }
        process.waitUntilExit()
        try handle.close()

        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(finished, "apiclient_e2e.py did not finish within 420 s:\n\(text)\n\(net.log("controller"))")
        #expect(process.terminationStatus == 0, "apiclient_e2e.py failed (exit \(process.terminationStatus)):\n\(text)")
    }
}
