import Foundation
import JWTKit

/// Who a peer token speaks for: a combiner (to the controller) or a client (to a combiner).
public enum PeerRole: String, Codable, Sendable {
    case combiner, client
}

/// The claims of a peer token: the peer's role and name (combiner name or client id), and
/// when it expires. Signed by the controller with Ed25519 (EdDSA), so combiners verify client
/// tokens with the controller's public key alone — no shared secret leaves the controller
/// (Flower authenticates SuperNodes by public key the same way; FEDn shares one HS256 secret).
public struct PeerClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var role: PeerRole
    public var exp: ExpirationClaim
    public var iss: IssuerClaim
    /// When it was issued: a revocation refuses every token of its name issued before it.
    public var iat: IssuedAtClaim?

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}

/// The controller's signing key for peer tokens: issues them; its public half verifies them.
public struct PeerTokenIssuer: Sendable {
    private let keys: Task<JWTKeyCollection, Never>
    /// The raw 32-byte Ed25519 public key, handed to combiners at registration.
    public let publicKey: Data

    public init(privateKey raw: Data) throws {
        let key = try EdDSA.PrivateKey(d: raw.base64URL, curve: .ed25519)
        keys = Task { await JWTKeyCollection().add(eddsa: key) }
        publicKey = key.publicKey.rawRepresentation
    }

    /// The key stored at `url` (32 raw bytes, mode 0600), made on first use.
    public static func load(orCreateAt url: URL) throws -> PeerTokenIssuer {
        if let raw = try? Data(contentsOf: url), raw.count == 32 { return try PeerTokenIssuer(privateKey: raw) }
        let raw = try EdDSA.PrivateKey(curve: .ed25519).rawRepresentation
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: url.path, contents: raw, attributes: [.posixPermissions: 0o600]) else {
            throw WireError(.internal, "cannot write the peer signing key to \(url.path)")
        }
        return try PeerTokenIssuer(privateKey: raw)
    }

    /// A token for `name` in `role`, valid for `lifetime`.
    public func issue(role: PeerRole, name: String, lifetime: Duration = .seconds(30 * 86_400)) async throws -> String {
        let expires = Date().addingTimeInterval(Double(lifetime.components.seconds))
        return try await keys.value.sign(PeerClaims(sub: .init(value: name), role: role, exp: .init(value: expires), iss: .init(value: "tributary-controller"),
                                                    iat: .init(value: Date())))
    }

    public var verifier: PeerTokenVerifier {
        get throws { try PeerTokenVerifier(publicKey: publicKey) }
    }
}

/// Checks what peers present: tokens with the controller's public key, certificate proofs
/// (`CertificateProof`) against the network's CA — signature, expiry, role and name.
public struct PeerTokenVerifier: Sendable {
    private let keys: Task<JWTKeyCollection, Never>?
    private let certificates: X5CVerifier?

    /// `publicKey`: the controller's raw Ed25519 key (nil: no tokens accepted); `trustedCAPEM`:
    /// the CA whose certificates' proofs are accepted (nil: none).
    public init(publicKey raw: Data?, trustedCAPEM: String? = nil) throws {
        if let raw {
            let key = try EdDSA.PublicKey(x: raw.base64URL, curve: .ed25519)
            keys = Task { await JWTKeyCollection().add(eddsa: key) }
        } else {
            keys = nil
        }
        certificates = try trustedCAPEM.map { try X5CVerifier(rootCertificates: [$0]) }
    }

    /// The token's claims when it is valid, of `role`, and — when `name` is given — speaks for
    /// `name`; an `.unauthorized` wire error saying why otherwise.
    public func verify(_ token: String?, role: PeerRole, as name: String?) async throws(WireError) -> PeerClaims {
        guard let token, !token.isEmpty else { throw WireError(.unauthorized, "no peer token: this network requires one (\(role.rawValue) token from the controller)") }
        let claims = try await claims(of: token)
        try Self.authorize(claims, role: role, as: name)
        return claims
    }

    /// The claims of a token or certificate proof whose signature and expiry are valid.
    public func claims(of token: String) async throws(WireError) -> PeerClaims {
        if CertificateProof.isProof(token) {
            guard let certificates else { throw WireError(.unauthorized, "certificate proofs are not accepted here: this endpoint runs without TLS") }
            return try await CertificateProof.verify(token, with: certificates)
        }
        guard let keys else { throw WireError(.unauthorized, "invalid peer token: this network authenticates peers by certificate") }
        do { return try await keys.value.verify(token, as: PeerClaims.self) } catch {
            throw WireError(.unauthorized, "\("\(error)".contains("expired") ? "expired" : "invalid") peer token")
        }
    }

    /// Passes when valid `claims` are of `role` and (when given) speak for `name`.
    public static func authorize(_ claims: PeerClaims, role: PeerRole, as name: String?) throws(WireError) {
        guard claims.role == role else { throw WireError(.unauthorized, "a \(claims.role.rawValue) token cannot act as a \(role.rawValue)") }
        if let name, claims.sub.value != name {
            throw WireError(.unauthorized, "impersonation: the token is for \(role.rawValue) '\(claims.sub.value)', the request names '\(name)'")
        }
    }
}

extension Data {
    /// Base64url without padding (RFC 7515 §2), as JWK coordinates are written.
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
