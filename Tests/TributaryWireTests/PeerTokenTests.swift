import Foundation
import Logging
import Testing
@testable import TributaryWire

/// Peer tokens (Ed25519-signed JWTs) and their place in a frame: what passes and what each
/// refusal says.
@Suite("Peer tokens and the frame's auth field")
struct PeerTokenTests {
    static let issuer = try! PeerTokenIssuer(privateKey: Data((0..<32).map { UInt8($0) }))

    @Test("A token verifies for its role and name, with the public key alone; every mismatch is an unauthorized refusal naming why")
    func verification() async throws {
        let verifier = try PeerTokenVerifier(publicKey: Self.issuer.publicKey)
        #expect(Self.issuer.publicKey.count == 32)
        let token = try await Self.issuer.issue(role: .combiner, name: "combiner-0")
        let claims = try await verifier.verify(token, role: .combiner, as: "combiner-0")
        #expect(claims.sub.value == "combiner-0" && claims.role == .combiner)
        _ = try await verifier.verify(token, role: .combiner, as: nil)
        for (presented, role, name, words) in [
            (nil, PeerRole.combiner, "combiner-0", "no peer token"),
            (token, .client, "combiner-0", "cannot act as a client"),
            (token, .combiner, "combiner-1", "impersonation"),
            (token + "x", .combiner, "combiner-0", "invalid"),
            (try await PeerTokenIssuer(privateKey: Data(repeating: 9, count: 32)).issue(role: .combiner, name: "combiner-0"), .combiner, "combiner-0", "invalid"),
            (try await Self.issuer.issue(role: .combiner, name: "combiner-0", lifetime: .seconds(-10)), .combiner, "combiner-0", "expired"),
        ] as [(String?, PeerRole, String, String)] {
            do {
                _ = try await verifier.verify(presented, role: role, as: name)
                Issue.record("accepted: \(words)")
            } catch {
                #expect(error.code == .unauthorized && error.message.contains(words), "\(error)")
            }
        }
    }

    @Test("The signing key is made once with mode 0600 and read back the same")
    func keyFile() async throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("peer-key-\(UUID().uuidString)/peer-signing.key")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let first = try PeerTokenIssuer.load(orCreateAt: url)
        let again = try PeerTokenIssuer.load(orCreateAt: url)
        #expect(first.publicKey == again.publicKey)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        _ = try await again.verifier.verify(try await first.issue(role: .client, name: "c"), role: .client, as: "c")
    }

    @Test("A frame carries the token as its metadata's auth field; the message decodes as before; a frame without one has none")
    func frameAuth() async throws {
        let token = try await Self.issuer.issue(role: .client, name: "alice")
        let message = try Frame.encode(.clientHeartbeat, ClientHeartbeat(clientId: "alice"), auth: token)
        let frame = try Frame.decode(message)
        let beat = try frame.decodeMetadata(ClientHeartbeat.self)
        #expect(frame.auth == token && beat.clientId == "alice")
        let empty = try Frame.decode(try Frame.encode(.ack, Empty(), auth: token))
        #expect(empty.auth == token)
        #expect(try Frame.decode(try Frame.encode(.clientHeartbeat, ClientHeartbeat(clientId: "alice"))).auth == nil)
        #expect(throws: WireError.self) { try Frame.encode(.ack, Empty(), auth: "not\"a-token") }

        let gate = PeerGate(verifier: try Self.issuer.verifier, logger: Logger(label: "test"))
        try await gate.check(frame, .client, as: "alice")
        await #expect(throws: WireError.self) { try await gate.check(frame, .client, as: "bob") }
        let first = await gate.drain(), second = await gate.drain()
        #expect(first.map(\.claimed) == ["bob"] && second.isEmpty)

        // A revocation refuses the tokens issued before it, not those issued after.
        await gate.revoke("alice", role: .client)
        await #expect(throws: WireError(.unauthorized, "revoked: client 'alice' was removed from the network")) { try await gate.check(frame, .client, as: "alice") }
        await gate.setRevocations(["alice": Date().addingTimeInterval(-60)], role: .client)
        try await gate.check(frame, .client, as: "alice")
    }
}
