import Foundation
import Testing
import TributaryWire

/// Peer authentication on nng without TLS, with the real executables: a controller with
/// `--jwt-secret --peer-auth` signs peer tokens (Ed25519); combiners present theirs, combiners
/// check their clients' with the controller's public key. Without a token, with another role's
/// token, under another name, expired, or signed by another key, a peer is refused — and each
/// refusal is a status event — while the properly credentialed network trains.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct PeerAuthenticationTests {
    static let secret = "peer-auth-test-secret"

    @Test("Unauthenticated, wrong-role and impersonating combiners cannot register; clients cannot act as others; expired, foreign or revoked tokens fail; the secured network trains")
    func onlyCredentialedPeersTakePart() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        let data = net.directory.appendingPathComponent("data").path
        net.token = try net.output("tributary-controller", ["--jwt-secret", Self.secret, "--issue-token", "admin"])
        try net.startController(extra: ["--jwt-secret", Self.secret, "--peer-auth"])
        try await net.waitHealthy()
        func peerToken(_ role: String, _ name: String) throws -> String {
            try net.output("tributary-controller", ["--data-dir", data, "--issue-peer-token", role, "--name", name])
        }

        // Refused: no token, a client's token, combiner-0's token under the name combiner-x.
        try net.startCombiner("no-token")
        try net.startCombiner("wrong-role", extra: ["--peer-token", try peerToken("client", "wrong-role")])
        try net.startCombiner("combiner-x", extra: ["--peer-token", try peerToken("combiner", "combiner-0")])
        // Admitted.
        try net.startCombiner("combiner-0", extra: ["--peer-token", try peerToken("combiner", "combiner-0")])
        try net.startCombiner("combiner-1", extra: ["--peer-token", try peerToken("combiner", "combiner-1")])
        try await net.waitOnline(combiners: 2)
        try await Task.sleep(for: .seconds(2))
        let names = try #require(try await net.get("/api/v1/combiners/") as? [String: Any])["result"] as? [[String: Any]] ?? []
        #expect(Set(names.compactMap { $0["name"] as? String }) == ["combiner-0", "combiner-1"], "\(names)")

        try net.uploadTinySeed()
        for i in 0..<2 { try net.startClient("client-\(i)", partition: "\(i)/2") }
        try await net.waitOnline(combiners: 2, clients: 2)

        // A client's own token does not let it speak for another client, at the combiner.
        let assignment = try #require(try await net.request("POST", "/api/v1/clients/add", json: ["client_id": "alice"]).body as? [String: Any])
        let alice = try #require(assignment["peer_token"] as? String)
        let combiner = try PeerConnection(url: try #require(assignment["combiner_address"] as? String), credential: alice)
        defer { combiner.close() }
        _ = try await combiner.call(.clientRegister, ClientRegister(clientId: "alice", name: "alice"), expecting: .clientRegistered, timeout: .seconds(5))
        await Self.expectRefused(await Self.error { try await combiner.call(.clientRegister, ClientRegister(clientId: "client-0", name: "x"), expecting: .clientRegistered, timeout: .seconds(5)) },
                                 "impersonation")
        let anonymous = try PeerConnection(url: combiner.url)
        defer { anonymous.close() }
        await Self.expectRefused(await Self.error { try await anonymous.call(.clientHeartbeat, ClientHeartbeat(clientId: "client-1"), expecting: .clientHeartbeatReply, timeout: .seconds(5)) },
                                 "no peer token")
        // Signed by another key (another controller), and expired.
        let foreign = try await PeerTokenIssuer(privateKey: Data(repeating: 7, count: 32)).issue(role: .client, name: "mallory")
        let forged = try PeerConnection(url: combiner.url, credential: foreign)
        defer { forged.close() }
        await Self.expectRefused(await Self.error { try await forged.call(.clientRegister, ClientRegister(clientId: "mallory", name: "m"), expecting: .clientRegistered, timeout: .seconds(5)) },
                                 "invalid")
        let issuer = try PeerTokenIssuer.load(orCreateAt: URL(fileURLWithPath: data).appendingPathComponent("peer-signing.key"))
        let short = try await issuer.issue(role: .client, name: "eve", lifetime: .seconds(1))
        try await Task.sleep(for: .seconds(2))
        let expired = try PeerConnection(url: combiner.url, credential: short)
        defer { expired.close() }
        await Self.expectRefused(await Self.error { try await expired.call(.clientRegister, ClientRegister(clientId: "eve", name: "e"), expecting: .clientRegistered, timeout: .seconds(5)) },
                                 "expired")

        // The credentialed clients train.
        let session = try await net.startSession(["rounds": 2, "round_timeout": 60, "validate": false])
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished", "\(net.log("controller").suffix(3000))")

        // Deleting a client or a combiner revokes its tokens at once (combiners learn of clients' from their next heartbeat).
        #expect(try await net.request("DELETE", "/api/v1/clients/alice").status == 200)
        let aliceRevoked = await net.waitFor(timeout: .seconds(10)) {
            (await Self.error { try await combiner.call(.clientHeartbeat, ClientHeartbeat(clientId: "alice"), expecting: .clientHeartbeatReply, timeout: .seconds(5)) } as? WireError)?
                .message.contains("revoked") == true
        }
        #expect(aliceRevoked, "alice's token still works after her deletion")
        let combiners = try #require(try await net.get("/api/v1/combiners/") as? [String: Any])["result"] as? [[String: Any]] ?? []
        let one = try #require(combiners.first { $0["name"] as? String == "combiner-1" }?["combiner_id"] as? String)
        #expect(try await net.request("DELETE", "/api/v1/combiners/\(one)").status == 200)

        // Every refusal is on record: the combiners' own (at the controller) and the clients' (reported by their combiner).
        let recorded = await net.waitFor(timeout: .seconds(10)) {
            let statuses = try await net.get("/api/v1/statuses/?type=PEER_AUTH_REFUSED") as? [String: Any]
            let texts = (statuses?["result"] as? [[String: Any]] ?? []).compactMap { $0["status"] as? String }
            return ["no peer token", "cannot act as a combiner", "impersonation", "invalid", "expired", "revoked: client 'alice'", "revoked: combiner 'combiner-1'"].allSatisfy { word in texts.contains { $0.contains(word) } }
        }
        let statuses = try await net.get("/api/v1/statuses/?type=PEER_AUTH_REFUSED")
        #expect(recorded, "\(String(describing: statuses))")
    }

    static func error(_ body: () async throws -> Any) async -> (any Error)? {
        do { _ = try await body(); return nil } catch { return error }
    }

    static func expectRefused(_ error: (any Error)?, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        guard let wire = error as? WireError else { Issue.record("expected a refusal (\(words)), got \(String(describing: error))", sourceLocation: sourceLocation); return }
        #expect(wire.code == .unauthorized && wire.message.contains(words), "\(wire)", sourceLocation: sourceLocation)
    }
}
