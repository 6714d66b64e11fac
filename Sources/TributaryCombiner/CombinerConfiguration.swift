import TributaryWire

/// Everything a combiner needs to start; the executable fills it from its options.
public struct CombinerConfiguration: Sendable {
    /// Unique name in the network; a restarted combiner with the same name takes its old place.
    public var name: String
    /// The controller's nng REP address.
    public var controllerAddress: String
    /// Where this combiner listens for clients: requests (REP) and notices (PUB).
    public var replyAddress: String = "tcp://127.0.0.1:7200"
    public var publishAddress: String = "tcp://127.0.0.1:7201"
    /// Host clients should dial when the listen addresses use 0.0.0.0 (nil: as listened).
    public var advertiseHost: String? = nil
    /// Concurrent client requests served.
    public var replyConcurrency: Int = 16
    /// Memory for partly received multi-chunk uploads (senders get `busy` and retry when it is
    /// full). One upload always fits, so peak memory is about 3× the model (global copy,
    /// accumulator, one staged upload) plus this constant.
    public var maxStagingBytes: Int = 64 << 20
    /// The peer token this combiner presents to the controller (`tributary-controller
    /// --issue-peer-token combiner --name NAME`, or `POST /api/v1/auth/peer-token`); nil: none.
    public var peerToken: String? = nil
    /// Mutual TLS on `tls+tcp://` addresses: the CA this combiner trusts, its certificate and key
    /// (`tributary pki issue --role combiner --name NAME`). With a certificate, it proves its
    /// identity with it when it has no peer token, and requires clients to prove theirs.
    public var tls: TLSIdentity? = nil
    /// Requests a second each client may make (a flooding client is refused, others unaffected).
    public var clientRateLimit = PeerRateLimit(perSecond: 200)
    /// Per-request timeout towards the controller.
    public var requestTimeout: Duration = .seconds(30)

    public init(name: String, controllerAddress: String) {
        self.name = name
        self.controllerAddress = controllerAddress
    }
}
