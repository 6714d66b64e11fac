import Foundation
import JWTKit
import X509

/// A peer's proof of its certificate, sent on nng where a controller-signed token would go: a
/// short-lived ES256 JWT signed with the certificate's private key, the certificate in its `x5c`
/// header (RFC 7515 §4.1.6). The verifier checks the chain against the network's CA and the
/// signature against the certificate, and takes the peer's role and name from the certificate's
/// subject (OU, CN) — so the certificate's identity is the peer's identity even though nng 1.5.2
/// does not show the application which certificate the TLS handshake presented. Inside mutual
/// TLS a proof cannot be read off the wire; its lifetime bounds the use of one copied from a
/// compromised host.
public struct CertificateProof: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var role: String
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }

    /// A proof for the certificate and key of `identity`, valid for `lifetime`.
    public static func mint(_ identity: TLSIdentity, lifetime: Duration) async throws -> String {
        guard let certificatePEM = identity.certificatePEM, let keyPEM = identity.privateKeyPEM else {
            throw WireError(.unauthorized, "a certificate proof needs a certificate and its key")
        }
        let subject = try PKI.identity(ofCertificatePEM: certificatePEM)
        guard let role = subject.role, let name = subject.name else {
            throw WireError(.unauthorized, "the certificate names no Tributary role (OU) and name (CN)")
        }
        let keys = await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(pem: keyPEM))
        let now = Date()
        let proof = CertificateProof(sub: .init(value: name), role: role.rawValue, exp: .init(value: now.addingTimeInterval(Double(lifetime.components.seconds))),
                                     iat: .init(value: now))
        var header = JWTHeader()
        header.x5c = [certificatePEM]
        return try await keys.sign(proof, header: header)
    }

    /// Whether `token` carries a certificate (an `x5c` header) rather than a controller signature.
    static func isProof(_ token: String) -> Bool {
        guard let header = token.split(separator: ".", maxSplits: 1).first,
              let data = Data(base64URL: String(header)),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return object["x5c"] != nil
    }

    /// The claims of a valid proof: role and name from the certificate, `iat` its issue date (a
    /// revocation refuses certificates issued before it; a re-issued one works).
    static func verify(_ token: String, with verifier: X5CVerifier) async throws(WireError) -> PeerClaims {
        let proof: CertificateProof
        let certificate: Certificate
        do {
            proof = try await verifier.verifyJWS(token, as: CertificateProof.self)
            let header = String(token.split(separator: ".", maxSplits: 1)[0])
            let object = try JSONSerialization.jsonObject(with: Data(base64URL: header) ?? Data()) as? [String: Any]
            guard let leaf = (object?["x5c"] as? [String])?.first, let der = Data(base64Encoded: leaf) else { throw WireError(.unauthorized, "no certificate") }
            certificate = try Certificate(derEncoded: [UInt8](der))
        } catch {
            throw WireError(.unauthorized, "\(error)".contains("expired")
                            ? "expired certificate proof" : "certificate not accepted: not issued by this network's CA, expired, or a bad signature")
        }
        guard let identity = try? PKI.identity(ofCertificatePEM: certificate.serializeAsPEM().pemString),
              let role = identity.role.flatMap({ PeerRole(rawValue: $0.rawValue) }), let name = identity.name,
              proof.role == role.rawValue, proof.sub.value == name else {
            throw WireError(.unauthorized, "the proof does not match its certificate's role and name")
        }
        return PeerClaims(sub: .init(value: name), role: role, exp: proof.exp, iss: .init(value: "certificate"), iat: .init(value: certificate.notValidBefore))
    }
}

extension Data {
    /// Decodes base64url with or without padding.
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        self.init(base64Encoded: base64)
    }
}
