import AsyncHTTPClient
import NIOSSL
import Synchronization

/// One HTTP client per trust configuration for the life of the process (the clients of a swarm
/// share it; process-lifetime clients need no shutdown).
public enum TrustedHTTPClient {
    private static let byCA = Mutex<[String: HTTPClient]>([:])

    /// The shared client for the system's roots (`caPEM` nil), else one trusting only `caPEM`.
    public static func client(trusting caPEM: String?) throws -> HTTPClient {
        guard let caPEM else { return HTTPClient.shared }
        return try byCA.withLock { clients in
            if let client = clients[caPEM] { return client }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            clients[caPEM] = client
            return client
        }
    }
}
