import Foundation
import HummingbirdWSClient
import Logging
import NIOSSL
import Testing

/// TLS on the HTTP APIs with certificates from `tributary pki`: the controller serves HTTPS
/// and its event stream as WSS; a client trusting the network's CA connects, one that does not
/// (or one speaking plain HTTP to the TLS port) gets nothing.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct HTTPSTests {
    @Test("tributary pki init/issue, then HTTPS and WSS with the CA as the only trust root; untrusted and plain clients are refused")
    func controllerServesTLS() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        let pki = net.directory.appendingPathComponent("pki").path
        #expect(try net.output("tributary", ["pki", "init", "--dir", pki]).hasPrefix("ca: "))
        #expect(try net.output("tributary", ["pki", "issue", "--dir", pki, "--role", "controller", "--name", "controller"]).contains("key: "))
        let mode = try FileManager.default.attributesOfItem(atPath: pki + "/controller.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try net.startController(extra: ["--tls-cert", pki + "/controller.pem", "--tls-key", pki + "/controller.key"])
        try await Task.sleep(for: .seconds(2))

        var trusting = TLSConfiguration.makeClientConfiguration()
        trusting.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki + "/ca.pem"))
        let secure = "wss://localhost:\(net.httpPort)/ws/events"
        let opened = await net.waitFor(timeout: .seconds(20)) { await Self.connects(secure, tls: trusting) }
        #expect(opened, "a client trusting the CA could not open \(secure):\n\(net.log("controller"))")

        // Default trust roots do not know the network's CA; plain ws:// to the TLS port is no handshake.
        #expect(!(await Self.connects(secure, tls: .makeClientConfiguration())), "connected without trusting the CA")
        #expect(!(await Self.connects("ws://localhost:\(net.httpPort)/ws/events", tls: nil)), "plain ws:// reached the TLS port")
    }

    /// Whether a WebSocket handshake to `url` completes within 3 s (a TLS port answering plain
    /// HTTP never replies, so every attempt is bounded).
    static func connects(_ url: String, tls: TLSConfiguration?) async -> Bool {
        let opened = Flag()
        // Not a task group: a handshake that never completes ignores cancellation, and a group
        // would wait for it. The attempt is left to end (or hang) on its own.
        let attempt = Task { _ = try? await WebSocketClient.connect(url: url, tlsConfiguration: tls, logger: Logger(label: "ws")) { _, _, _ in await opened.set() } }
        for _ in 0..<30 where !(await opened.value) { try? await Task.sleep(for: .milliseconds(100)) }
        attempt.cancel()
        return await opened.value
    }

    private actor Flag {
        var value = false
        func set() { value = true }
    }
}
