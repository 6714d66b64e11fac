import Foundation
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
    /// Concurrent client requests served. Upload bytes in flight are bounded by the staging
    /// budget (clients ask for a slot first), so contexts are cheap: most hold a heartbeat.
    public var replyConcurrency: Int = 64
    /// The staging budget: update bytes admitted at once — slots granted (`requestUploadSlot`)
    /// and multi-chunk uploads staged; others get `busy` and retry. One update always fits, so
    /// with models of at least this size peak memory is about 2× the model plus chunks in flight
    /// (the running sum — the first update itself, scaled in place — and one update being
    /// staged; the served model is spooled, see `spoolDirectory`).
    /// Raise it (`--staging-budget`) to take several uploads in parallel where memory allows.
    public var maxStagingBytes: Int = 4 << 20
    /// The download budget: model chunk bytes sent to clients and not yet confirmed received
    /// (`DownloadBudget`); one chunk always goes. Without it every client fetching at once
    /// held a chunk-sized message here. Raise it (`--download-budget`) to serve several
    /// clients in parallel where memory allows.
    public var maxDownloadBytes: Int = 4 << 20
    /// Where the round's model is spooled while it is served (`SpooledModel`: its bytes in the
    /// page cache, not in this process's memory); nil keeps it in memory.
    public var spoolDirectory: URL? = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-combiner")
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
