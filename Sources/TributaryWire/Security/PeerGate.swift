import Foundation
import Logging

/// Peer authentication and per-peer rate limits at one REP endpoint. With a verifier set, every
/// request must carry a valid token or certificate proof of the expected role that names its
/// sender (`PeerTokenVerifier`); without one (a network run without peer authentication)
/// everything passes. Each refusal is logged, counted (`tributary_peer_auth_refused_total`,
/// `tributary_peer_rate_limited_total`), kept for the next heartbeat (a combiner reports its
/// clients' refusals to the controller) and handed to `onRefusal` (the controller records it as
/// a status event; rate-limit refusals once a minute per peer).
public actor PeerGate {
    private var verifier: PeerTokenVerifier?
    private var pending: [PeerRefusal] = []
    /// Revoked peers by role and name: when; tokens issued before then are refused.
    private var revoked: [PeerRole: [String: Date]] = [:]
    /// Claims of tokens already verified (a certificate proof costs a chain validation), until they expire.
    private var verified: [String: PeerClaims] = [:]
    private var buckets: PeerBuckets?
    private let logger: Logger
    private let onRefusal: @Sendable (PeerRefusal, PeerRole) async -> Void

    public init(verifier: PeerTokenVerifier? = nil, revoked: [PeerRole: [String: Date]] = [:], rateLimit: PeerRateLimit? = nil, logger: Logger,
                onRefusal: @escaping @Sendable (PeerRefusal, PeerRole) async -> Void = { _, _ in }) {
        self.verifier = verifier
        self.revoked = revoked
        self.buckets = rateLimit.map(PeerBuckets.init(limit:))
        self.logger = logger
        self.onRefusal = onRefusal
    }

    /// Turns checking on, or replaces the verifier (a combiner learns the controller's key when it registers).
    public func require(_ verifier: PeerTokenVerifier) {
        self.verifier = verifier
        verified = [:]
    }

    public var isOn: Bool { verifier != nil }

    /// Refuses, from now on, every token of `name` issued before `at` (a deleted client or combiner).
    public func revoke(_ name: String, role: PeerRole, at: Date = Date()) { revoked[role, default: [:]][name] = at }

    /// Replaces the revocations of `role` (a combiner takes its clients' from each heartbeat reply).
    public func setRevocations(_ list: [String: Date], role: PeerRole) { revoked[role] = list }

    public func revocations(_ role: PeerRole) -> [String: Date] { revoked[role] ?? [:] }

    /// Passes when the request's token is valid for `role` and `name` (nil: any peer of that
    /// role) and its sender is within its rate limit.
    public func check(_ frame: Frame, _ role: PeerRole, as name: String?) async throws(WireError) {
        var sender = name
        if let verifier {
            do throws(WireError) {
                let claims = try await claims(of: frame.auth, role: role, verifier: verifier)
                try PeerTokenVerifier.authorize(claims, role: role, as: name)
                // A token issued in the same second as the revocation counts as before it (iat is whole seconds).
                if let at = revoked[role]?[claims.sub.value], (claims.iat?.value ?? .distantPast) <= at.addingTimeInterval(1) {
                    throw WireError(.unauthorized, "revoked: \(role.rawValue) '\(claims.sub.value)' was removed from the network")
                }
                sender = claims.sub.value
            } catch {
                Telemetry.peerAuthRefused(role).increment()
                try await refuse(frame, role, name, error, report: true)
            }
        }
        if let peer = sender, let wait = buckets?.take("\(role.rawValue)/\(peer)") {
            Telemetry.peerRateLimited(role).increment()
            let report = buckets?.shouldReport("\(role.rawValue)/\(peer)") ?? false
            try await refuse(frame, role, peer, WireError(.rateLimited, "rate limit of \(buckets?.limit.rate ?? 0) requests a second exceeded; retry in \(Int((wait * 1000).rounded(.up))) ms"),
                             report: report)
        }
    }

    private func claims(of token: String?, role: PeerRole, verifier: PeerTokenVerifier) async throws(WireError) -> PeerClaims {
        guard let token, !token.isEmpty else { throw WireError(.unauthorized, "no peer token: this network requires one (\(role.rawValue) token or certificate)") }
        if let claims = verified[token], claims.exp.value > Date() { return claims }
        let claims = try await verifier.claims(of: token)
        if verified.count >= 10_000 { verified.removeAll(keepingCapacity: true) }
        verified[token] = claims
        return claims
    }

    private func refuse(_ frame: Frame, _ role: PeerRole, _ name: String?, _ error: WireError, report: Bool) async throws(WireError) {
        if report {
            let refusal = PeerRefusal(kind: "\(frame.kind)", claimed: name, reason: error.message, code: error.code.rawValue)
            logger.warning("peer refused", metadata: ["kind": "\(frame.kind)", "claimed": "\(name ?? "-")", "reason": "\(error.message)"])
            if pending.count < 100 { pending.append(refusal) }
            await onRefusal(refusal, role)
        }
        throw error
    }

    /// Refusals another endpoint reported (a combiner's, in its heartbeat), recorded as this one's are.
    public func record(_ refusals: [PeerRefusal], role: PeerRole) async {
        for refusal in refusals { await onRefusal(refusal, role) }
    }

    /// The refusals since the last call (at most 100; a flood is summarized by the counters).
    public func drain() -> [PeerRefusal] {
        defer { pending = [] }
        return pending
    }
}
