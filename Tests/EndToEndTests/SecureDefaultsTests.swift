import Foundation
import Testing

/// Secure by default: a controller reachable from other machines does not start without
/// authentication on what they can reach, unless told `--insecure`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SecureDefaultsTests {
    /// Starts the controller with `arguments`; returns its exit status and stderr when it exits
    /// within 3 s, nil when it is still running then (it started) — and stops it.
    static func attempt(_ net: TestNetwork, _ arguments: [String]) throws -> (status: Int32, message: String)? {
        let process = Process()
        process.executableURL = TestNetwork.binDirectory.appendingPathComponent("tributary-controller")
        process.arguments = ["--data-dir", net.directory.appendingPathComponent("data-\(UUID().uuidString.prefix(4))").path,
                             "--http-port", "\(try TestNetwork.freePort())"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<30 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        guard !process.isRunning else {
            process.terminate()
            process.waitUntilExit()
            return nil
        }
        return (process.terminationStatus, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test("Non-loopback HTTP without --jwt-secret and non-loopback nng without peer authentication are refused at start, naming --insecure; with credentials or --insecure it starts")
    func refusesOpenBinds() throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        let nng = ["--listen", "tcp://127.0.0.1:\(try TestNetwork.freePort())", "--publish", "tcp://127.0.0.1:\(try TestNetwork.freePort())"]
        let openNNG = ["--listen", "tcp://0.0.0.0:\(try TestNetwork.freePort())", "--publish", "tcp://0.0.0.0:\(try TestNetwork.freePort())"]
        let http = try #require(try Self.attempt(net, ["--http-host", "0.0.0.0"] + nng))
        #expect(http.status != 0 && http.message.contains("--jwt-secret") && http.message.contains("--insecure"), "\(http.message)")
        let wire = try #require(try Self.attempt(net, ["--jwt-secret", "s"] + openNNG))
        #expect(wire.status != 0 && wire.message.contains("--peer-auth") && wire.message.contains("--insecure"), "\(wire.message)")
        let tlsWithoutCA = try #require(try Self.attempt(net, ["--listen", "tls+tcp://127.0.0.1:\(try TestNetwork.freePort())"]))
        #expect(tlsWithoutCA.status != 0 && tlsWithoutCA.message.contains("--tls-ca"), "\(tlsWithoutCA.message)")

        #expect(try Self.attempt(net, ["--http-host", "0.0.0.0", "--jwt-secret", "s", "--peer-auth"] + openNNG) == nil, "a credentialed open controller did not start")
        #expect(try Self.attempt(net, ["--http-host", "0.0.0.0", "--insecure"] + openNNG) == nil, "--insecure did not start")
        #expect(try Self.attempt(net, nng) == nil, "a loopback controller did not start")
    }
}
