import CNNG
import Foundation

/// What one nng endpoint needs for mutual TLS on `tls+tcp://` (mbedTLS 2.28 in Debian's nng):
/// the CA it trusts, and its own certificate and key. A listener requires and verifies the
/// dialer's certificate (`NNG_TLS_AUTH_MODE_REQUIRED` in server mode), a dialer verifies the
/// listener's against the URL's host; a peer without a certificate, or with one from another
/// CA, fails the handshake and never gets a pipe (nng reports nothing to the listener, so such
/// refusals are only visible at the refused peer).
///
/// nng 1.5.2 does not expose the peer's certificate to the application (only
/// `NNG_OPT_TLS_VERIFIED`), so the handshake proves "holds a certificate of this CA"; which peer
/// it is comes from the certificate-bound proof every request carries (`PeerCredential`).
public struct TLSIdentity: Sendable, Equatable {
    public var caPEM: String
    public var certificatePEM: String?
    public var privateKeyPEM: String?

    public init(caPEM: String, certificatePEM: String? = nil, privateKeyPEM: String? = nil) {
        self.caPEM = caPEM
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// Reads the PEM files; certificate and key go together.
    public static func load(ca: String, certificate: String?, key: String?) throws -> TLSIdentity {
        guard (certificate == nil) == (key == nil) else { throw WireError(.malformed, "a TLS certificate and its key go together") }
        func read(_ path: String, _ what: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("-----BEGIN") else {
                throw WireError(.notFound, "cannot read the \(what) PEM file \(path)")
            }
            return text
        }
        return TLSIdentity(caPEM: try read(ca, "CA"), certificatePEM: try certificate.map { try read($0, "certificate") },
                           privateKeyPEM: try key.map { try read($0, "key") })
    }

    /// Whether `url` is a TLS transport (`tls+tcp://`, `tls+tcp4://`, `tls+tcp6://`).
    public static func isTLS(_ url: String) -> Bool { url.hasPrefix("tls+tcp") }

    /// A new nng TLS configuration for a listener (`server`) or a dialer of `url`; the caller
    /// frees its reference once the endpoint holds one.
    func makeConfig(server: Bool, url: String) throws(NNGError) -> OpaquePointer {
        var config: OpaquePointer?
        try nngCheck(nng_tls_config_alloc(&config, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT))
        guard let config else { throw NNGError.noMemory }
        do {
            try nngCheck(nng_tls_config_auth_mode(config, NNG_TLS_AUTH_MODE_REQUIRED))
            try nngCheck(nng_tls_config_ca_chain(config, caPEM, nil))
            if let certificatePEM, let privateKeyPEM {
                try nngCheck(nng_tls_config_own_cert(config, certificatePEM, privateKeyPEM, nil))
            }
            // mbedTLS 2.28 matches the server name against the certificate's DNS names only, which
            // is why `PKI.issue` also writes IP hosts as DNS names.
            if !server, let host = Self.host(of: url) { try nngCheck(nng_tls_config_server_name(config, host)) }
        } catch {
            nng_tls_config_free(config)
            throw error
        }
        return config
    }

    /// The host of `scheme://host:port`, without IPv6 brackets.
    static func host(of url: String) -> String? {
        guard let start = url.range(of: "://")?.upperBound else { return nil }
        let authority = url[start...].prefix { $0 != "/" }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return authority.split(separator: ":").first.map(String.init)
    }
}
