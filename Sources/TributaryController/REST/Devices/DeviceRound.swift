import Foundation
import TributarySecAgg
import TributaryStore

/// A device round as the device API shows it: a one-round session (named `device-round-…`)
/// and, once it has started, its round row. Its id is the round's id, `<session id>-r1`, from
/// the moment it is created, so a pending round keeps its id when it starts.
struct DeviceRound: Sendable {
    static let namePrefix = "device-round-"

    var session: SessionRecord
    var round: RoundRecord?

    var id: String { round?.roundId ?? Self.id(sessionId: session.sessionId) }

    static func id(sessionId: String) -> String { RoundRecord.id(sessionId: sessionId, roundNumber: 1) }

    /// pending → selected → active → aggregating → completed | failed | cancelled.
    func status(open: Bool) -> String {
        guard let round else {
            if session.status == .terminated { return "cancelled" }
            return session.sessionConfig.selectedDevices == nil ? "pending" : "selected"
        }
        switch round.status {
        case .pending: return "pending"
        case .running: return open ? "active" : "pending"
        case .aggregating, .validating: return "aggregating"
        case .completed: return "completed"
        case .failed: return round.error?.hasPrefix(RoundCancellations.reasonPrefix) == true ? "cancelled" : "failed"
        }
    }

    var isFinished: Bool {
        if let round { return round.status == .completed || round.status == .failed }
        return session.status == .terminated
    }
}

extension DeviceAPI {
    /// The round `id` names: any round of the network (`<session>-r<n>`), or a device round
    /// created but not started.
    func resolveRound(_ id: String) throws -> DeviceRound? {
        if let round = try store.fetch(RoundRecord.self, id: id), let session = try store.fetch(SessionRecord.self, id: round.sessionId) {
            return DeviceRound(session: session, round: round)
        }
        let suffix = DeviceRound.id(sessionId: "")
        guard id.hasSuffix(suffix), let session = try store.fetch(SessionRecord.self, id: String(id.dropLast(suffix.count))) else { return nil }
        return DeviceRound(session: session, round: nil)
    }

    func requireRound(_ id: String) throws -> DeviceRound {
        guard let round = try resolveRound(id) else { throw DeviceError.notFound("round '\(id)' does not exist") }
        return round
    }

    /// Whether the HTTP cohort is collecting for `round` now (and who it waits for).
    func openCohort(for round: DeviceRound) async -> (selected: Set<String>, pending: Set<String>)? {
        guard let record = round.round, let open = await cohort.openRound,
              open.order.sessionId == record.sessionId, open.order.round == record.roundNumber else { return nil }
        return (open.selected, open.pending)
    }

    /// The device identifiers a round selected: the open cohort's, the selection of a pending
    /// round, or those recorded as taking part.
    func selectedDevices(_ round: DeviceRound) async throws -> Set<String> {
        if let open = await openCohort(for: round) { return open.selected }
        if let record = round.round {
            let rows = try await store.database.read { db in
                try String.fetchAll(db, sql: "SELECT client_id FROM participation WHERE session_id = ? AND round_number = ?",
                                    arguments: [record.sessionId, record.roundNumber])
            }
            return Set(rows)
        }
        return Set(round.session.sessionConfig.selectedDevices ?? [])
    }

    /// A round in the seed's shape (every field of its table), with the `config` the SDKs read.
    func roundBody(_ round: DeviceRound) async throws -> [String: Any] {
        let open = await openCohort(for: round)
        let config = round.session.sessionConfig
        var accepted = 0, failed = 0, participated = 0
        if let record = round.round {
            let rows = try await store.database.read { db in
                try ParticipationRecord.filter(sql: "session_id = ? AND round_number = ?", arguments: [record.sessionId, record.roundNumber]).fetchAll(db)
            }
            accepted = open.map { $0.selected.count - $0.pending.count } ?? rows.filter { $0.outcome == .accepted }.count
            failed = rows.filter { $0.outcome != .accepted }.count
            participated = open?.selected.count ?? rows.count
        } else {
            participated = config.selectedDevices?.count ?? 0
        }
        let started = round.round?.committedAt
        let modelURL = { (kind: String) in "\(DeviceAPI.base)/training/rounds/\(round.id)/\(kind)" }
        let modelIn = round.round?.modelIn ?? config.modelId ?? round.session.seedModelId
        let clipNorm = (try? config.aggregatorSettings())?.clipNorm
        let secagg = try config.secureAggregation.map { try DeviceAPI.secaggConfig($0, clipNorm: clipNorm, unweighted: config.unweighted || clipNorm != nil) }
        return [
            "id": round.id, "round_id": round.id, "round_number": round.round?.roundNumber ?? 1, "status": round.status(open: open != nil),
            "target_devices": config.requestedClients ?? participated, "min_devices": config.clientsRequired,
            "participated_devices": participated, "completed_devices": accepted, "failed_devices": failed,
            "global_model_path": modelURL("global-model"),
            "aggregated_model_path": round.round?.modelOut.map { _ in modelURL("aggregated-model") } as Any? ?? NSNull(),
            "started_at": FLFormat.date(started), "completed_at": FLFormat.date(round.round?.finishedAt),
            "timeout_at": FLFormat.date(started?.addingTimeInterval(config.roundTimeout)), "created_at": FLFormat.date(round.session.committedAt),
            "error": round.round?.error as Any? ?? NSNull(),
            "config": ["model_id": modelIn as Any? ?? NSNull(), "version": modelIn as Any? ?? NSNull(),
                       "proximal_mu": config.training.proximalMu as Any? ?? NSNull(), "clip_norm": clipNorm as Any? ?? NSNull(), "filters": [String](),
                       "secure_aggregation": secagg != nil, "secagg": secagg as Any? ?? NSNull(), "aggregator": config.aggregator,
                       "timeout_seconds": Int(config.roundTimeout)],
            "model_id": modelIn as Any? ?? NSNull(), "version": modelIn as Any? ?? NSNull(),
        ]
    }

    /// The most recent cancelled round (within the last hour) that had selected `device`, so its
    /// next heartbeat tells it to stop.
    func cancelledRound(for device: DeviceRecord) throws -> String? {
        let since = Date().addingTimeInterval(-3600)
        return try store.database.read { db in
            try String.fetchOne(db, sql: """
                SELECT r.round_id FROM round r JOIN participation p ON p.session_id = r.session_id AND p.round_number = r.round_number
                WHERE p.client_id = ? AND r.error LIKE ? AND r.finished_at >= ? ORDER BY r.finished_at DESC LIMIT 1
                """, arguments: [device.deviceIdentifier, RoundCancellations.reasonPrefix + "%", since])
        }
    }
}
