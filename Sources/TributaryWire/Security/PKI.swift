import Crypto
import Foundation
import SwiftASN1
import X509

/// Provisioning for a network that authenticates peers by certificate (mutual TLS): a CA, and
/// per-peer keys and certificates issued by it (NVFlare's "startup kits" in spirit). A
/// certificate names its peer: the common name is the combiner name / client id / controller,
/// the organizational unit its role — so a certificate's identity is the peer's identity.
/// ECDSA P-256 throughout (mbedTLS, nng's TLS engine on Debian, and swift-nio-ssl both speak it).
public enum PKI {
    public enum Role: String, CaseIterable, Sendable {
        case controller, combiner, client
    }

    public struct Issued: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String
    }

    static let organization = "tributary"

    /// A new self-signed CA, valid for `years`.
    public static func makeCA(name: String = "Tributary CA", years: Int = 10) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName(organization)
            CommonName(name)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(years) * 365 * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// A key and certificate for peer `name` in `role`, signed by the CA, valid for `days`;
    /// usable both as a TLS server and client (every peer both listens and dials). `hosts`
    /// (DNS names or IP addresses) go into the subject alternative names, with `localhost`
    /// and 127.0.0.1.
    public static func issue(role: Role, name: String, hosts: [String] = [], days: Int = 365, caCertificatePEM: String, caKeyPEM: String) throws -> Issued {
        let ca = try Certificate(pemEncoded: caCertificatePEM)
        let caKey = try P256.Signing.PrivateKey(pemRepresentation: caKeyPEM)
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName(organization)
            OrganizationalUnitName(role.rawValue)
            CommonName(name)
        }
        // IP hosts go in twice: as IP addresses (what swift-nio-ssl and browsers match) and as DNS
        // names (mbedTLS 2.28, nng's TLS engine, matches a server name against DNS names only).
        var names: [GeneralName] = []
        for host in ["localhost", "127.0.0.1"] + Set(hosts + [name]).sorted() where !host.isEmpty && !names.contains(.dnsName(host)) {
            if let address = ipv4(host) { names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address)))) }
            names.append(.dnsName(host))
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: ca.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(caKey))
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// The role and name a certificate speaks for (organizational unit, common name).
    public static func identity(ofCertificatePEM pem: String) throws -> (role: Role?, name: String?) {
        let certificate = try Certificate(pemEncoded: pem)
        var role: Role?, name: String?
        for rdn in certificate.subject {
            for attribute in rdn {
                let text = String(describing: attribute.value)
                if attribute.type == .RDNAttributeType.organizationalUnitName { role = Role(rawValue: text) }
                if attribute.type == .RDNAttributeType.commonName { name = text }
            }
        }
        return (role, name)
    }

    static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".")
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }
}
