import Foundation
import TributaryWire

/// Everything a client needs to start; the executable fills it from its options.
public struct ClientConfiguration: Sendable {
    /// The controller's REST base URL, e.g. `http://127.0.0.1:8092`.
    public var controllerURL: URL
    /// Bearer token for the controller's REST API when it requires one.
    public var token: String? = nil
    public var clientId: String
    public var name: String
    /// Name of the combiner to prefer (nil: the controller picks the least loaded).
    public var preferredCombiner: String? = nil
    /// Mutual TLS towards combiners on `tls+tcp://`: the CA, this client's certificate and key
    /// (`tributary pki issue --role client --name ID`); the certificate proves the client id
    /// when the controller hands out no peer token.
    public var tls: TLSIdentity? = nil
    /// Per-request timeout towards the combiner.
    public var requestTimeout: Duration = .seconds(30)
    /// Consecutive failed heartbeats after which the client asks the controller for a
    /// combiner again (its combiner is gone).
    public var rejoinAfterFailures: Int = 5

    public init(controllerURL: URL, clientId: String, name: String) {
        self.controllerURL = controllerURL
        self.clientId = clientId
        self.name = name
    }
}
