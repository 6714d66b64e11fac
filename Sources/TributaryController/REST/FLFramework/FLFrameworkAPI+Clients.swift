import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// `POST /clients/register`, `GET /clients`, `GET /clients/{id}`, `GET /clients/select`.
/// The clients of this API are HTTP participants; nng clients of the same network are listed
/// beside them (`kind`), with the same scores.
extension FLFrameworkAPI {
    /// 1 to 128 letters, digits, '.', '_', ':' or '-'.
    static func isValidClientId(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 58 || c == 45
        }
    }

    func registerClients<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.post("clients/register") { request, _ in
            let body = try await request.bodyObject(allowEmpty: false)
            guard let id = try body.string("client_id"), Self.isValidClientId(id) else {
                throw FLError.invalid("field 'client_id' is required: 1 to 128 letters, digits, '.', '_', ':' or '-'")
            }
            var kept: [String: Any] = [:]
            for key in ["client_config", "capabilities", "location"] {
                guard let value = body[key], !(value is NSNull) else { continue }
                guard value is [String: Any] else { throw FLError.invalid("field '\(key)' must be an object") }
                kept[key] = value
            }
            if try participants.find(id) != nil || store.fetch(ClientRecord.self, id: id) != nil {
                throw FLError(.conflict, "CONFLICT", "Resource already exists", details: "a client '\(id)' is already registered")
            }
            let record = HTTPClientRecord(clientId: id, api: "fl-framework",
                                          registration: String(decoding: try JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys]), as: UTF8.self))
            do { try store.insert(record) } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw FLError(.conflict, "CONFLICT", "Resource already exists", details: "a client '\(id)' is already registered")
            }
            events.publish("client_update", ["client_id": id, "status": "registered"])
            let round = await cohort.openRound.map { $0.order.round } ?? 0
            return try APIResponse.object([
                "client_id": id, "registration_id": record.registrationId, "status": "registered", "assigned_round": round + 1,
                "client_config": kept["client_config"] ?? [:], "timestamp": FLFormat.date(record.registeredAt),
            ], status: .created)
        }
        api.get("clients/select") { request, _ in
            let check = try request.flag("policy_check", default: true)
            let session = try await currentSession()
            let policy = check ? session?.sessionConfig.policy : nil
            let scores = try ParticipantScores(store: store)
            let candidates = Array(try await activeParticipantIds())
            let (selected, excluded) = scores.apply(policy, to: candidates)
            var applied: [String] = []
            if policy?.trustThreshold != nil { applied.append("trust_threshold") }
            if policy?.maxClientFailures != nil { applied.append("max_client_failures") }
            let results = Dictionary(uniqueKeysWithValues: selected.map { id in
                (id, ["trust_score": scores[id].trust, "reliability_score": scores[id].reliability, "compliance": true, "policies_applied": applied] as [String: Any])
            })
            var body: [String: Any] = [
                "selected_clients": selected, "policy_results": results, "excluded_clients": excluded.keys.sorted(),
                "exclusion_reasons": excluded, "policy_check": check,
            ]
            if let round = try request.intQuery("round") { body["round"] = round }
            return try APIResponse.object(body)
        }
        api.get("clients/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let entry = try await clientEntry(id, scores: try ParticipantScores(store: store)) else { throw FLError.notRegistered(id) }
            return try APIResponse.object(entry)
        }
        api.get("clients") { request, _ in
            let status = request.query("status")
            guard status == nil || ["active", "inactive", "registered"].contains(status!) else {
                throw FLError.invalid("query parameter 'status' must be active, inactive or registered")
            }
            let round = try request.intQuery("round")
            let scores = try ParticipantScores(store: store)
            var ids = try participants.all().map(\.clientId) + (await store.database.read { db in try String.fetchAll(db, sql: "SELECT client_id FROM client") })
            if let round, let session = try await currentSession() {
                let inRound = Set(try await store.database.read { db in
                    try String.fetchAll(db, sql: "SELECT client_id FROM participation WHERE session_id = ? AND round_number = ?", arguments: [session.sessionId, round])
                })
                ids = ids.filter(inRound.contains)
            }
            var entries: [[String: Any]] = []
            for id in Set(ids).sorted() {
                guard let entry = try await clientEntry(id, scores: scores) else { continue }
                if let status, entry["status"] as? String != status { continue }
                entries.append(entry.filter { ["client_id", "status", "current_round", "trust_score", "kind"].contains($0.key) })
            }
            return try APIResponse.object([
                "clients": entries, "total_count": entries.count, "active_count": entries.filter { $0["status"] as? String == "active" }.count,
                "timestamp": FLFormat.now(),
            ])
        }
    }

    /// One client as the API shows it, HTTP participant or nng client; nil when unknown.
    func clientEntry(_ id: String, scores: ParticipantScores) async throws -> [String: Any]? {
        let status: String, kind: String
        if let http = try participants.find(id) {
            let took = scores[id].assigned > 0
            status = participants.isActive(http) ? (took ? "active" : "registered") : "inactive"
            kind = "http"
        } else if let client = try store.fetch(ClientRecord.self, id: id) {
            status = client.status == .online ? "active" : "inactive"
            kind = "nng"
        } else {
            return nil
        }
        let last = try await store.database.read { db in
            try ParticipationRecord.filter(sql: "client_id = ? AND outcome = 'accepted'", arguments: [id]).order(sql: "committed_at DESC").fetchOne(db)
        }
        var performance: [String: Any] = [:]
        if let last {
            let m = Self.clientMetrics(last)
            performance = ["local_accuracy": m["local_accuracy"]!, "training_time": m["training_time"]!, "communication_time": NSNull(), "data_size": last.numExamples]
        }
        let score = scores[id]
        return [
            "client_id": id, "kind": kind, "status": status, "current_round": last?.roundNumber ?? 0,
            "last_update": FLFormat.date(last?.committedAt), "performance_metrics": performance,
            "trust_score": score.trust, "contribution_score": score.contribution, "reliability_score": score.reliability,
        ]
    }
}
