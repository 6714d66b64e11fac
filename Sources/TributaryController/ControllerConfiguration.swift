import Foundation
import TributaryWire

/// Everything a controller needs to start; the executable fills it from its options.
public struct ControllerConfiguration: Sendable {
    /// Directory for the SQLite database and the model files.
    public var dataDirectory: URL
    /// REST API bind address.
    public var httpHost: String = "127.0.0.1"
    /// HS256 secret for bearer-JWT authentication of the REST API; nil: authentication off.
    public var jwtSecret: String? = nil
    /// Peer authentication on nng: every combiner and client request must carry a peer token
    /// the controller signed (Ed25519; the key is `peer-signing.key` in the data directory).
    public var peerAuthentication = false
    /// REST requests a minute per bearer token (with `--jwt-secret`); past it, 429 + `Retry-After`.
    public var apiRequestsPerMinute = 1200
    /// HTTPS (and WSS) on the HTTP APIs: a PEM certificate (chain) and its PEM private key.
    public var tlsCertificate: URL? = nil
    public var tlsKey: URL? = nil
    /// Mutual TLS on `tls+tcp://` nng addresses: the CA every combiner's certificate must come
    /// from, and the controller's own certificate and key (those of the HTTPS side by default).
    /// Combiners then prove their identity with their certificate when they have no peer token.
    public var nngTLS: TLSIdentity? = nil
    /// Requests a second each combiner may make on nng.
    public var combinerRateLimit = PeerRateLimit(perSecond: 2000)
    /// The network's name, reported to clients by `GET /api/v1/clients/config`.
    public var networkId: String = "tributary"
    public var httpPort: Int = 8092
    /// nng REP address combiners dial (requests), and PUB address they subscribe to (notices).
    public var replyAddress: String = "tcp://127.0.0.1:7100"
    public var publishAddress: String = "tcp://127.0.0.1:7101"
    /// Host combiners should dial for notices when the addresses above use 0.0.0.0 (nil: as bound).
    public var advertiseHost: String? = nil
    /// Heartbeat interval asked of combiners; a combiner is stale after 2 missed, offline after 5.
    public var heartbeatInterval: Duration = .seconds(1)
    /// Concurrent requests served on the REP socket.
    public var replyConcurrency: Int = 8
    /// Memory for partly received multi-chunk uploads (senders get `busy` and retry when it is
    /// full). One upload always fits, so peak memory is about 3× the model (global copy,
    /// accumulator, one staged upload) plus this constant.
    public var maxStagingBytes: Int = 64 << 20
    /// Serve the dashboard's files from this directory instead of the copies built into the
    /// binary (for editing the page without a rebuild); nil: the built-in copies.
    public var dashboardDirectory: URL? = nil
    /// The FL Framework API's rate limits (its documented defaults).
    public var flRateLimits = FLRateLimits()
    /// The device API: requests a minute per device, and the heartbeat interval devices are
    /// expected to keep (stale after 2 missed, offline after 5).
    public var deviceRequestsPerMinute = 100
    public var deviceHeartbeatInterval: TimeInterval = 30
    /// The shortest `timeout_seconds` a device round may have (the seed's floor is 60).
    public var deviceRoundMinimumTimeout = 60
    /// An HTTP participant counts as active (selectable for a round) this long after its last call.
    public var httpParticipantActiveWindow: TimeInterval = 60

    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
    }
}
