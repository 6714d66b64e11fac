/// Combiner → controller: join (idempotent: the same name takes its old place).
public struct CombinerRegister: Codable, Sendable {
    public var name: String
    /// Where clients reach this combiner: its REP and PUB addresses.
    public var replyAddress: String
    public var publishAddress: String

    public init(name: String, replyAddress: String, publishAddress: String) {
        self.name = name
        self.replyAddress = replyAddress
        self.publishAddress = publishAddress
    }
}

public struct CombinerRegistered: Codable, Sendable {
    public var combinerId: String
    public var heartbeatSeconds: Double
    /// The controller's PUB address, for round notices.
    public var publishAddress: String
    /// The controller's Ed25519 public key (base64) when the network requires peer tokens:
    /// the combiner then checks its clients' tokens with it.
    public var peerPublicKey: String?
    public init(combinerId: String, heartbeatSeconds: Double, publishAddress: String, peerPublicKey: String? = nil) {
        self.combinerId = combinerId
        self.heartbeatSeconds = heartbeatSeconds
        self.publishAddress = publishAddress
        self.peerPublicKey = peerPublicKey
    }
}

/// A combiner shutting down cleanly: the controller stops counting on it at once.
public struct CombinerLeave: Codable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
}

public struct CombinerHeartbeat: Codable, Sendable {
    public var name: String
    /// Ids of the clients currently online at this combiner.
    public var clients: [String]
    /// Clients that missed 2 heartbeats but not yet 5 (after 5 they are dropped).
    public var staleClients: [String]
    /// How far the combiner's current job is (for live progress and events).
    public var progress: JobProgress?
    /// Client requests this combiner refused for their peer token since its last heartbeat
    /// (the controller records each as a status event).
    public var refusals: [PeerRefusal]

    public init(name: String, clients: [String], staleClients: [String] = [], progress: JobProgress? = nil, refusals: [PeerRefusal] = []) {
        self.name = name
        self.clients = clients
        self.staleClients = staleClients
        self.progress = progress
        self.refusals = refusals
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        clients = try c.decode([String].self, forKey: .clients)
        staleClients = try c.decodeIfPresent([String].self, forKey: .staleClients) ?? []
        progress = try c.decodeIfPresent(JobProgress.self, forKey: .progress)
        refusals = try c.decodeIfPresent([PeerRefusal].self, forKey: .refusals) ?? []
    }
}

/// A request refused for its peer token or its sender's rate: what it claimed to be, and why.
public struct PeerRefusal: Codable, Sendable, Equatable {
    public var kind: String
    public var claimed: String?
    public var reason: String
    /// The wire error code (`unauthorized`, `rateLimited`; absent from older combiners: unauthorized).
    public var code: String?
    public init(kind: String, claimed: String?, reason: String, code: String? = nil) {
        self.kind = kind
        self.claimed = claimed
        self.reason = reason
        self.code = code
    }

    public var isRateLimit: Bool { code == WireError.Code.rateLimited.rawValue }
}

/// A combiner's view of its running job: whom it selected and whose results it accepted.
public struct JobProgress: Codable, Sendable, Equatable {
    public var jobId: String
    public var round: Int
    public var kind: JobKind
    public var selected: Int
    public var accepted: [String]

    public init(jobId: String, round: Int, kind: JobKind, selected: Int, accepted: [String]) {
        self.jobId = jobId
        self.round = round
        self.kind = kind
        self.selected = selected
        self.accepted = accepted
    }
}

/// The truth a heartbeat pulls: the job this combiner should be running, if any.
public struct CombinerHeartbeatReply: Codable, Sendable {
    public var job: JobOrder?
    /// Set when the controller does not know this combiner (it restarted): register again.
    public var mustRegister: Bool
    /// Set when an operator skipped the barrier (`POST /api/v1/control/skip`): stop waiting
    /// for clients in this job and report what has arrived.
    public var closeJob: String?
    /// Revoked clients (id → seconds since 1970 of the revocation) when the network requires
    /// peer tokens: the combiner refuses their older tokens.
    public var revokedClients: [String: Double]?
    public init(job: JobOrder?, mustRegister: Bool = false, closeJob: String? = nil, revokedClients: [String: Double]? = nil) {
        self.job = job
        self.mustRegister = mustRegister
        self.closeJob = closeJob
        self.revokedClients = revokedClients
    }
}

/// Client → combiner: join (idempotent per client id).
public struct ClientRegister: Codable, Sendable {
    public var clientId: String
    public var name: String
    public init(clientId: String, name: String) {
        self.clientId = clientId
        self.name = name
    }
}

public struct ClientRegistered: Codable, Sendable {
    public var combiner: String
    public var heartbeatSeconds: Double
    public init(combiner: String, heartbeatSeconds: Double) {
        self.combiner = combiner
        self.heartbeatSeconds = heartbeatSeconds
    }
}

public struct ClientHeartbeat: Codable, Sendable {
    public var clientId: String
    public init(clientId: String) { self.clientId = clientId }
}

public struct ClientHeartbeatReply: Codable, Sendable {
    public var task: ClientTask?
    public var mustRegister: Bool
    /// The interval the combiner asks for now (it grows with the number of clients); absent from older combiners.
    public var heartbeatSeconds: Double?
    public init(task: ClientTask?, mustRegister: Bool = false, heartbeatSeconds: Double? = nil) {
        self.task = task
        self.mustRegister = mustRegister
        self.heartbeatSeconds = heartbeatSeconds
    }
}
