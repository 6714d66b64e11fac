import Foundation
import Testing
import TributaryWire

/// Mutual TLS on every nng hop, with the real executables and certificates from `tributary pki`:
/// the controller and combiners listen on `tls+tcp://`, every peer presents a certificate of
/// the network's CA, and a certificate's subject (OU = role, CN = name) is the peer's identity.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct MutualTLSNetworkTests {
    static let secret = "mtls-test-secret"
    nonisolated(unsafe) static let session: [String: Any] = ["rounds": 3, "round_timeout": 60, "clients_required": 4,
                                         "training": ["local_epochs": 2, "learning_rate": 0.1, "batch_size": 16]]

    @Test("Combiners without a certificate, from another CA, with a client's certificate or another combiner's are refused; a client cannot act as another; the secured network trains to the plain network's accuracy")
    func securedNetworkTrains() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        net.nngScheme = "tls+tcp"
        let pki = net.directory.appendingPathComponent("pki").path
        let other = net.directory.appendingPathComponent("other-ca").path
        _ = try net.output("tributary", ["pki", "init", "--dir", pki])
        _ = try net.output("tributary", ["pki", "init", "--dir", other, "--name", "Another CA"])
        for (role, name) in [("controller", "controller"), ("combiner", "combiner-0"), ("combiner", "combiner-1"), ("client", "client-0"),
                             ("client", "client-1"), ("client", "client-2"), ("client", "client-3"), ("client", "client-x")] {
            _ = try net.output("tributary", ["pki", "issue", "--dir", pki, "--role", role, "--name", name])
        }
        _ = try net.output("tributary", ["pki", "issue", "--dir", other, "--role", "combiner", "--name", "intruder"])
        func tls(_ name: String, in dir: String = pki) -> [String] {
            ["--tls-ca", "\(pki)/ca.pem", "--tls-cert", "\(dir)/\(name).pem", "--tls-key", "\(dir)/\(name).key"]
        }

        net.token = try net.output("tributary-controller", ["--jwt-secret", Self.secret, "--issue-token", "admin"])
        // The controller's certificate serves HTTPS too; REST calls and the executables trust only the network's CA.
        try net.startController(extra: ["--jwt-secret", Self.secret] + tls("controller"))
        net.caFile = "\(pki)/ca.pem"
        try await net.waitHealthy()
        try net.startCombiner("intruder", extra: tls("intruder", in: other))        // another CA: no handshake
        try net.startCombiner("combiner-x", extra: tls("client-x"))                 // a client's certificate
        try net.startCombiner("combiner-y", extra: tls("combiner-0"))               // combiner-0's certificate
        try net.startCombiner("combiner-0", extra: tls("combiner-0"))
        try net.startCombiner("combiner-1", extra: tls("combiner-1"))
        try await net.waitOnline(combiners: 2)
        try await Task.sleep(for: .seconds(2))
        let listed = try #require(try await net.get("/api/v1/combiners/") as? [String: Any])["result"] as? [[String: Any]] ?? []
        #expect(Set(listed.compactMap { $0["name"] as? String }) == ["combiner-0", "combiner-1"], "\(listed)")
        #expect(!net.log("intruder").contains("registered with controller"))

        // From this process: a dialer with no certificate, and plain TCP, get no reply from the TLS port.
        let ca = try String(contentsOfFile: "\(pki)/ca.pem", encoding: .utf8)
        #expect(try await !Self.answers(net.controllerReply, SocketOptions(tls: TLSIdentity(caPEM: ca))))
        #expect(try await !Self.answers(net.controllerReply.replacingOccurrences(of: "tls+tcp://", with: "tcp://"), SocketOptions()))

        let seed = net.directory.appendingPathComponent("seed.npz").path
        _ = try net.output("tributary-client", ["seed-model", "--out", seed])
        _ = try net.output("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed])
        for i in 0..<4 { try net.startClient("client-\(i)", partition: "\(i)/4", extra: tls("client-\(i)")) }
        try net.startClient("client-z", partition: "0/4", extra: tls("client-0"))   // client-0's certificate under another id
        try await net.waitOnline(combiners: 2, clients: 4)
        let secured = try await Self.accuracies(net)

        // Every identity refusal is a status event; client-z's comes from its combiner's heartbeat.
        let words = ["a client token cannot act as a combiner", "the token is for combiner 'combiner-0', the request names 'combiner-y'",
                     "the token is for client 'client-0', the request names 'client-z'"]
        let recorded = await net.waitFor(timeout: .seconds(10)) {
            let statuses = try await net.get("/api/v1/statuses/?type=PEER_AUTH_REFUSED") as? [String: Any]
            let texts = (statuses?["result"] as? [[String: Any]] ?? []).compactMap { $0["status"] as? String }
            return words.allSatisfy { word in texts.contains { $0.contains(word) } }
        }
        let refusals = try await net.get("/api/v1/statuses/?type=PEER_AUTH_REFUSED")
        #expect(recorded, "\(String(describing: refusals))")
        net.stopAll()

        // The same training on a plain network: TLS changes nothing in the result.
        let plain = try TestNetwork()
        defer { plain.stopAll() }
        try plain.startController()
        try await plain.waitHealthy()
        for i in 0..<2 { try plain.startCombiner("combiner-\(i)") }
        try await plain.waitOnline(combiners: 2)
        _ = try plain.output("tributary", ["upload-model", "--controller", plain.controllerURL.absoluteString, seed])
        for i in 0..<4 { try plain.startClient("client-\(i)", partition: "\(i)/4") }
        try await plain.waitOnline(combiners: 2, clients: 4)
        let reference = try await Self.accuracies(plain)
        #expect(secured.count == 3 && secured.last! > 0.85, "\(secured)")
        #expect(abs(secured.last! - reference.last!) <= 0.01, "secured \(secured), plain \(reference)")
    }

    /// Runs `session` to the end and returns each round's validation accuracy.
    static func accuracies(_ net: TestNetwork) async throws -> [Double] {
        let id = try await net.startSession(session)
        #expect(try await net.waitSessionEnd(id, timeout: .seconds(120)) == "Finished", "\(net.log("controller").suffix(3000))")
        return try await net.rounds(id).compactMap { (($0["round_data"] as? [String: Any])?["validation"] as? [String: Any])?["accuracy"] as? Double }
    }

    /// Whether one raw request to `url` is answered within 1.5 s.
    static func answers(_ url: String, _ options: SocketOptions) async throws -> Bool {
        let client = try RequestClient(url: url, options: options)
        defer { client.close() }
        return (try? await client.request(try Frame.encode(.combinerHeartbeat, CombinerHeartbeat(name: "probe", clients: [])), timeout: .milliseconds(1500))) != nil
    }
}
