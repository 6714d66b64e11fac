import Foundation
import Logging
import Testing
@testable import TributaryWire

/// Mutual TLS on nng (`tls+tcp://`, mbedTLS) with certificates from `PKI`, and certificate
/// proofs: who gets a pipe, and whose proof names whom.
@Suite("Mutual TLS on nng and certificate proofs", .timeLimit(.minutes(3)))
struct MutualTLSTests {
    static let ca = try! PKI.makeCA()
    static let otherCA = try! PKI.makeCA(name: "Someone else's CA")

    static func identity(_ role: PKI.Role, _ name: String, ca: PKI.Issued = ca) throws -> TLSIdentity {
        let issued = try PKI.issue(role: role, name: name, caCertificatePEM: ca.certificatePEM, caKeyPEM: ca.privateKeyPEM)
        return TLSIdentity(caPEM: ca.certificatePEM, certificatePEM: issued.certificatePEM, privateKeyPEM: issued.privateKeyPEM)
    }

    /// An echo server on `tls+tcp://127.0.0.1:<port>` presenting a controller certificate.
    static func server() throws -> (Socket, String, Task<Void, Never>) {
        let socket = try Socket(.reply, options: SocketOptions(receiveTimeout: .milliseconds(200), tls: try identity(.controller, "controller")))
        let url = try socket.listen("tls+tcp://127.0.0.1:0")
        let server = ReplyServer(socket: socket, concurrency: 2) { $0 }
        return (socket, url, Task { await server.run() })
    }

    /// Whether one echo through a dialer with `options` to `url` comes back within 1.5 s.
    static func echoes(_ url: String, _ options: SocketOptions) async throws -> Bool {
        let client = try RequestClient(url: url, options: options)
        defer { client.close() }
        do {
            let reply = try await client.request(try Message([1, 2, 3]), timeout: .milliseconds(1500))
            return Array(reply.body) == [1, 2, 3]
        } catch {
            return false
        }
    }

    @Test("A dialer with a certificate of the listener's CA gets a pipe; one without a certificate, with another CA's, or on plain tcp:// gets nothing")
    func handshake() async throws {
        let (socket, url, serving) = try Self.server()
        defer { socket.close(); serving.cancel() }
        #expect(url.hasPrefix("tls+tcp://127.0.0.1:") && !url.hasSuffix(":0"))
        #expect(try await Self.echoes(url, SocketOptions(tls: try Self.identity(.combiner, "combiner-0"))))
        // No certificate of its own: the listener requires one.
        #expect(try await !Self.echoes(url, SocketOptions(tls: TLSIdentity(caPEM: Self.ca.certificatePEM))))
        // A certificate from another CA (trusting ours, so only the listener can refuse it).
        var foreign = try Self.identity(.combiner, "combiner-0", ca: Self.otherCA)
        foreign.caPEM = Self.ca.certificatePEM
        #expect(try await !Self.echoes(url, SocketOptions(tls: foreign)))
        // A dialer that trusts another CA refuses the listener.
        #expect(try await !Self.echoes(url, SocketOptions(tls: try Self.identity(.combiner, "combiner-0", ca: Self.otherCA))))
        // Plain TCP to the TLS port.
        #expect(try await !Self.echoes(url.replacingOccurrences(of: "tls+tcp://", with: "tcp://"), SocketOptions()))
        // And a TLS listener without a certificate is refused at once.
        let bare = try Socket(.reply, options: SocketOptions(tls: TLSIdentity(caPEM: Self.ca.certificatePEM)))
        defer { bare.close() }
        #expect(throws: NNGError.invalid) { try bare.listen("tls+tcp://127.0.0.1:0") }
    }

    @Test("A certificate proof verifies against its CA with the certificate's role and name; another CA, another role, another name and an expired proof are refused")
    func proofs() async throws {
        let verifier = try PeerTokenVerifier(publicKey: nil, trustedCAPEM: Self.ca.certificatePEM)
        let alice = try await CertificateProof.mint(try Self.identity(.client, "alice"), lifetime: .seconds(60))
        #expect(CertificateProof.isProof(alice))
        let claims = try await verifier.verify(alice, role: .client, as: "alice")
        #expect(claims.sub.value == "alice" && claims.role == .client)
        for (token, role, name, words) in [
            (alice, PeerRole.client, "bob", "impersonation"),
            (alice, .combiner, "alice", "cannot act as a combiner"),
            (try await CertificateProof.mint(try Self.identity(.client, "alice", ca: Self.otherCA), lifetime: .seconds(60)), .client, "alice", "not issued by this network's CA"),
            (try await CertificateProof.mint(try Self.identity(.client, "alice"), lifetime: .seconds(-5)), .client, "alice", "expired"),
        ] {
            await #expect(throws: WireError.self, "\(words)") { _ = try await verifier.verify(token, role: role, as: name) }
            do { _ = try await verifier.verify(token, role: role, as: name) } catch { #expect(error.message.contains(words), "\(error)") }
        }
        // A verifier without a CA takes no proofs; one without a key takes no controller tokens.
        await #expect(throws: WireError.self) { _ = try await PeerTokenVerifier(publicKey: Data(repeating: 1, count: 32)).verify(alice, role: .client, as: "alice") }
        let token = try await PeerTokenIssuer(privateKey: Data(repeating: 3, count: 32)).issue(role: .client, name: "alice")
        await #expect(throws: WireError.self) { _ = try await verifier.verify(token, role: .client, as: "alice") }
    }

    @Test("A proof cannot be edited: another name in its claims fails the signature")
    func tamperedProof() async throws {
        let verifier = try PeerTokenVerifier(publicKey: nil, trustedCAPEM: Self.ca.certificatePEM)
        let alice = try await CertificateProof.mint(try Self.identity(.client, "alice"), lifetime: .seconds(60))
        let parts = alice.split(separator: ".").map(String.init)
        let decoded = try #require(Data(base64URL: parts[1]))
        let payload = String(decoding: decoded, as: UTF8.self).replacingOccurrences(of: "\"alice\"", with: "\"bob\"")
        let edited = [parts[0], Data(payload.utf8).base64URL, parts[2]].joined(separator: ".")
        await #expect(throws: WireError.self) { _ = try await verifier.verify(edited, role: .client, as: "bob") }
    }

    @Test("Per-peer rate limit: past its burst a peer is refused with rateLimited and a retry hint, another peer still passes, and the refusal is reported once")
    func rateLimit() async throws {
        let reports = RefusalLog()
        let gate = PeerGate(rateLimit: PeerRateLimit(perSecond: 1, burst: 5), logger: Logger(label: "test")) { refusal, _ in await reports.add(refusal) }
        let frame = try Frame.decode(try Frame.encode(.clientHeartbeat, ClientHeartbeat(clientId: "flooder")))
        for _ in 0..<5 { try await gate.check(frame, .client, as: "flooder") }
        for _ in 0..<20 {
            do {
                try await gate.check(frame, .client, as: "flooder")
                Issue.record("the flooder passed its limit")
            } catch {
                #expect(error.code == .rateLimited && error.message.contains("retry in"))
            }
        }
        try await gate.check(frame, .client, as: "honest")
        let logged = await reports.all
        #expect(logged.count == 1 && logged[0].isRateLimit && logged[0].claimed == "flooder")
    }
}

actor RefusalLog {
    private(set) var all: [PeerRefusal] = []
    func add(_ refusal: PeerRefusal) { all.append(refusal) }
}
