import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// `POST /api/v1/sessions/` (create) and `POST /api/v1/sessions/start`.
struct SessionControlRoutes {
    let store: Store
    let sessions: SessionManager

    struct CreateRequest: Decodable {
        var name: String?
        var seedModelId: String?
        var sessionConfig: SessionConfig?
        enum CodingKeys: String, CodingKey { case name, seedModelId = "seed_model_id", sessionConfig = "session_config" }
    }

    struct StartRequest: Decodable {
        var sessionId: String
        var rounds: Int?
        var roundTimeout: Double?
        enum CodingKeys: String, CodingKey { case sessionId = "session_id", rounds, roundTimeout = "round_timeout" }
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/sessions") { request, _ in
            let body = try await request.decodeJSON(CreateRequest.self)
            var config = body.sessionConfig ?? SessionConfig()
            if let bad = config.invalidField() { throw APIError.badRequest("invalid field 'session_config.\(bad.field)': \(bad.reason)") }
            let seed = body.seedModelId ?? config.modelId ?? latestModelId()
            guard let seed else { throw APIError.badRequest("field 'seed_model_id' is required: no model has been uploaded yet") }
            guard try store.fetch(ModelRecord.self, id: seed) != nil else {
                throw APIError.badRequest("field 'seed_model_id': model \(seed) not found")
            }
            config.modelId = seed
            let id = Store.newId()
            let name = body.name ?? "session-\(id.prefix(8))"
            guard !name.isEmpty, name.utf8.count <= 256 else { throw APIError.badRequest("field 'name' must be 1 to 256 characters") }
            let session = SessionRecord(sessionId: id, name: name, seedModelId: seed, config: config)
            do {
                // The UNIQUE index decides, so two concurrent creates cannot both win.
                try store.insert(session)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw APIError.badRequest("field 'name': a session named '\(name)' already exists")
            }
            return try APIResponse.json(session, status: .created)
        }
        router.post("/api/v1/sessions/start") { request, _ in
            let body = try await request.decodeJSON(StartRequest.self)
            if let rounds = body.rounds, rounds < 1 { throw APIError.badRequest("field 'rounds' must be at least 1") }
            if let timeout = body.roundTimeout, !(timeout > 0) { throw APIError.badRequest("field 'round_timeout' must be positive") }
            do {
                _ = try await sessions.start(sessionId: body.sessionId, rounds: body.rounds, roundTimeout: body.roundTimeout)
            } catch let error as SessionManager.StartError {
                if case .notFound = error { throw APIError.notFound(error.description) }
                throw APIError.badRequest(error.description)
            }
            return APIResponse.message("Session started")
        }
    }

    private func latestModelId() -> String? {
        let page = try? store.list(ModelRecord.self, columns: ModelRecord.columns, query: ListQuery(limit: 1))
        return page?.rows.first?.modelId
    }
}
