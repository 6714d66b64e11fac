import Foundation
import GRDB

/// What one client did in one training round, whatever way it came in (nng through a
/// combiner, or HTTP): its update was accepted (and with how many examples), rejected (and
/// why), or it was selected and did not answer. Participant scores are computed from these
/// rows only.
public struct ParticipationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "participation"

    public enum Outcome: String, Codable, Sendable {
        case accepted, rejected, missed
    }

    public var sessionId: String
    public var roundNumber: Int
    public var clientId: String
    public var outcome: Outcome
    /// Example count of an accepted update (0 otherwise).
    public var numExamples: Double
    /// The client's own training metrics (accepted updates).
    public var metrics: [String: Double]
    public var reason: String?
    public var committedAt: Date

    public init(sessionId: String, roundNumber: Int, clientId: String, outcome: Outcome, numExamples: Double = 0,
                metrics: [String: Double] = [:], reason: String? = nil, now: Date = Date()) {
        self.sessionId = sessionId
        self.roundNumber = roundNumber
        self.clientId = clientId
        self.outcome = outcome
        self.numExamples = numExamples
        self.metrics = metrics
        self.reason = reason
        self.committedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case sessionId = "session_id", roundNumber = "round_number", clientId = "client_id", outcome
        case numExamples = "num_examples", metrics, reason, committedAt = "committed_at"
    }
}

/// A participant that exchanges models over HTTP instead of nng (an FL-framework client):
/// registered once, seen whenever it calls the API.
public struct HTTPClientRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "http_client"

    public var clientId: String
    public var registrationId: String
    /// Which API registered it (`fl-framework`).
    public var api: String
    /// The registration body's free-form parts (`client_config`, `capabilities`, `location`), as JSON.
    public var registration: String
    public var registeredAt: Date
    public var lastSeen: Date

    public init(clientId: String, api: String, registration: String, now: Date = Date()) {
        self.clientId = clientId
        self.registrationId = "reg_" + UUID().uuidString.prefix(8).lowercased()
        self.api = api
        self.registration = registration
        self.registeredAt = now
        self.lastSeen = now
    }

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id", registrationId = "registration_id", api, registration
        case registeredAt = "registered_at", lastSeen = "last_seen"
    }
}

/// An experiment's own description (the FL-framework API's dataset, model, training and
/// policy configs), kept beside the session that runs it.
public struct ExperimentRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "experiment"

    public var sessionId: String
    /// The request body that created it, as JSON.
    public var definition: String
    public var committedAt: Date

    public init(sessionId: String, definition: String, now: Date = Date()) {
        self.sessionId = sessionId
        self.definition = definition
        self.committedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case sessionId = "session_id", definition, committedAt = "committed_at"
    }
}
