import Foundation
import Logging

/// Peer authentication at one REP endpoint: with a verifier set, every request must carry a
/// valid token of the expected role that names its sender (`PeerTokenVerifier`); without one
/// (a network run without peer authentication) everything passes. Each refusal is logged,
/// counted (`tributary_peer_auth_refused_total`), kept for the next heartbeat (a combiner
/// reports its clients' refusals to the controller) and handed to `onRefusal` (the controller
/// records it as a status event).
public actor PeerGate {
    private var verifier: PeerTokenVerifier?
    private var pending: [PeerRefusal] = []
    /// Revoked peers by role and name: when; tokens issued before then are refused.
    private var revoked: [PeerRole: [String: Date]] = [:]
    private let logger: Logger
    private let onRefusal: @Sendable (PeerRefusal, PeerRole) async -> Void

    public init(verifier: PeerTokenVerifier? = nil, revoked: [PeerRole: [String: Date]] = [:], logger: Logger,
                onRefusal: @escaping @Sendable (PeerRefusal, PeerRole) async -> Void = { _, _ in }) {
        self.verifier = verifier
        self.revoked = revoked
        self.logger = logger
        self.onRefusal = onRefusal
    }

    /// Turns checking on (a combiner learns the controller's key when it registers).
    public func require(_ verifier: PeerTokenVerifier) { self.verifier = verifier }

    public var isOn: Bool { verifier != nil }

    /// Refuses, from now on, every token of `name` issued before `at` (a deleted client or combiner).
    public func revoke(_ name: String, role: PeerRole, at: Date = Date()) { revoked[role, default: [:]][name] = at }

    /// Replaces the revocations of `role` (a combiner takes its clients' from each heartbeat reply).
    public func setRevocations(_ list: [String: Date], role: PeerRole) { revoked[role] = list }

    public func revocations(_ role: PeerRole) -> [String: Date] { revoked[role] ?? [:] }

    /// Passes when the request's token is valid for `role` and `name` (nil: any peer of that role).
    public func check(_ frame: Frame, _ role: PeerRole, as name: String?) async throws(WireError) {
        guard let verifier else { return }
        do throws(WireError) {
            let claims = try await verifier.verify(frame.auth, role: role, as: name)
            // A token issued in the same second as the revocation counts as before it (iat is whole seconds).
            if let at = revoked[role]?[claims.sub.value], (claims.iat?.value ?? .distantPast) <= at.addingTimeInterval(1) {
                throw WireError(.unauthorized, "revoked: \(role.rawValue) '\(claims.sub.value)' was removed from the network")
            }
        } catch {
            let refusal = PeerRefusal(kind: "\(frame.kind)", claimed: name, reason: error.message)
            Telemetry.peerAuthRefused(role).increment()
            logger.warning("peer refused", metadata: ["kind": "\(frame.kind)", "claimed": "\(name ?? "-")", "reason": "\(error.message)"])
            if pending.count < 100 { pending.append(refusal) }
            await onRefusal(refusal, role)
            throw error
        }
    }

    /// Refusals another endpoint reported (a combiner's, in its heartbeat), recorded as this one's are.
    public func record(_ refusals: [PeerRefusal], role: PeerRole) async {
        for refusal in refusals { await onRefusal(refusal, role) }
    }

    /// The refusals since the last call (at most 100; a flood is summarized by the counter).
    public func drain() -> [PeerRefusal] {
        defer { pending = [] }
        return pending
    }
}
