import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// Session writes: `POST /api/v1/sessions/` (create), `POST /start` (also `/control/start_session`),
/// `PATCH` and `PUT /{id}`.
struct SessionRoutes {
    let store: Store
    let sessions: SessionManager
    let resource: Resource<SessionRecord>

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/sessions") { request, _ in
            let session = try await create(try await request.bodyObject(allowEmpty: false))
            return try APIResponse.object(resource.present(session), status: .created)
        }
        router.post("/api/v1/sessions/start") { request, _ in
            try await start(try await request.bodyObject())
            return APIResponse.message("Session started")
        }
        router.patch("/api/v1/sessions/:id") { request, context in
            let updated = try await update(try context.parameters.require("id"), with: try await request.bodyObject(), replace: false)
            return try APIResponse.object(resource.present(updated))
        }
        router.put("/api/v1/sessions/:id") { request, context in
            let updated = try await update(try context.parameters.require("id"), with: try await request.bodyObject(), replace: true)
            return try APIResponse.object(resource.present(updated))
        }
    }

    /// Creates a session from `{name?, description?, seed_model_id?, session_config?}`; the
    /// seed defaults to `session_config.model_id`, then to the newest model.
    func create(_ body: [String: Any]) async throws -> SessionRecord {
        try body.onlyKeys(["name", "description", "seed_model_id", "session_config"])
        var config = try Self.config(body["session_config"])
        let seed = try body.string("seed_model_id") ?? config.modelId ?? store.latestModelId()
        guard let seed else { throw APIError.badRequest("field 'seed_model_id' is required: no model has been uploaded yet") }
        guard try store.fetch(ModelRecord.self, id: seed) != nil else { throw APIError.badRequest("field 'seed_model_id': model \(seed) not found") }
        config.modelId = seed
        let id = Store.newId()
        let name = try body.string("name") ?? "session-\(id.prefix(8))"
        guard !name.isEmpty, name.utf8.count <= 256 else { throw APIError.badRequest("field 'name' must be 1 to 256 characters") }
        var session = SessionRecord(sessionId: id, name: name, seedModelId: seed, config: config)
        session.description = try body.string("description")
        try insertUnique(session)
        return session
    }

    /// `{session_id, rounds?, round_timeout?, model_name_prefix?, client_ids?}` → a running session.
    func start(_ body: [String: Any]) async throws {
        guard let id = try body.string("session_id") else { throw APIError.badRequest("Session ID is required (field 'session_id')") }
        var options = SessionManager.StartOptions()
        if let rounds = try body.number("rounds") {
            guard rounds >= 1, rounds <= 1_000_000, rounds == rounds.rounded() else { throw APIError.badRequest("field 'rounds' must be an integer of at least 1") }
            options.rounds = Int(rounds)
        }
        if let timeout = try body.number("round_timeout") {
            guard timeout > 0, timeout.isFinite else { throw APIError.badRequest("field 'round_timeout' must be positive") }
            options.roundTimeout = timeout
        }
        options.modelNamePrefix = try body.string("model_name_prefix").flatMap { $0.isEmpty ? nil : $0 }
        switch body["client_ids"] {
        case nil, is NSNull: break
        case let text as String: options.clientIds = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case let list as [String]: options.clientIds = list
        default: throw APIError.badRequest("field 'client_ids' must be a comma-separated string or a list of strings")
        }
        do {
            _ = try await sessions.start(sessionId: id, options: options)
        } catch let error as SessionManager.StartError {
            if case .notFound = error { throw APIError.notFound(error.description) }
            throw APIError.badRequest(error.description)
        }
    }

    /// PATCH merges the given fields; PUT replaces the editable ones (`name`, `description`,
    /// `seed_model_id`, `session_config`, `status`) and resets those left out. `session_id`
    /// in the body is ignored. Setting `status` to `Terminated` stops a running session;
    /// the config of a running session cannot change.
    private func update(_ id: String, with body: [String: Any], replace: Bool) async throws -> SessionRecord {
        var fields = body
        fields.removeValue(forKey: "session_id")
        try fields.onlyKeys(["name", "description", "seed_model_id", "session_config", "status"])
        var session = try resource.fetch(id, in: store)
        let running = await sessions.runningSessionId == id
        if running, fields["session_config"] != nil || fields["seed_model_id"] != nil {
            throw APIError.badRequest("field 'session_config': session \(id) is running; stop it before changing its configuration")
        }
        if replace { guard fields["name"] != nil else { throw APIError.badRequest("missing field 'name'") } }
        if let name = try fields.string("name") {
            guard !name.isEmpty, name.utf8.count <= 256 else { throw APIError.badRequest("field 'name' must be 1 to 256 characters") }
            session.name = name
        }
        if replace || fields["description"] != nil { session.description = try fields.string("description") }
        if let config = fields["session_config"] {
            // Only an object merges; anything else goes to `config` as given, which refuses a
            // non-object (`merge` alone would silently ignore it).
            let merged = try (config as? [String: Any]).map { Self.merge(try Self.encodeObject(session.sessionConfig), $0) }
            session.sessionConfig = try Self.config(replace ? config : merged ?? config)
            session.sessionConfig.modelId = session.sessionConfig.modelId ?? session.seedModelId
        } else if replace {
            session.sessionConfig = SessionConfig()
            session.sessionConfig.modelId = session.seedModelId
        }
        if let seed = try fields.string("seed_model_id") {
            guard try store.fetch(ModelRecord.self, id: seed) != nil else { throw APIError.badRequest("field 'seed_model_id': model \(seed) not found") }
            session.seedModelId = seed
            session.sessionConfig.modelId = seed
        }
        if let text = try fields.string("status") {
            guard let status = SessionRecord.Status(rawValue: text) else {
                throw APIError.badRequest("field 'status' must be one of Created, Started, Finished, Failed, Terminated")
            }
            if !running, status == .started {
                // Only a start runs a session: a row marked Started without one would look
                // running, and the next controller start would resume it.
                throw APIError.badRequest("field 'status': use POST /api/v1/sessions/start to start a session")
            }
            if running, status != .started {
                guard status == .terminated else { throw APIError.badRequest("field 'status': a running session can only be set to Terminated") }
                _ = try await sessions.stop(sessionId: id)
            } else {
                session.status = status
            }
        }
        session.updatedAt = Date()
        do {
            try store.save(session)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw APIError.badRequest("field 'name': a session named '\(session.name)' already exists")
        }
        return session
    }

    private func insertUnique(_ session: SessionRecord) throws {
        do {
            // The UNIQUE index decides, so two concurrent creates cannot both win.
            try store.insert(session)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw APIError.badRequest("field 'name': a session named '\(session.name)' already exists")
        }
    }

    /// A `session_config` object decoded and checked; a 400 naming the bad field.
    static func config(_ value: Any?) throws -> SessionConfig {
        guard let value, !(value is NSNull) else { return SessionConfig() }
        guard value is [String: Any], let data = try? JSONSerialization.data(withJSONObject: value) else {
            throw APIError.badRequest("field 'session_config' must be an object")
        }
        let config = try Request.decode(SessionConfig.self, from: data)
        if let bad = config.invalidField() { throw APIError.badRequest("invalid field 'session_config.\(bad.field)': \(bad.reason)") }
        return config
    }

    private static func encodeObject<T: Encodable>(_ value: T) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value)) as? [String: Any]) ?? [:]
    }

    /// `patch` over `base`, key by key (nested objects merged too).
    private static func merge(_ base: [String: Any], _ patch: Any) -> [String: Any] {
        guard let patch = patch as? [String: Any] else { return base }
        var out = base
        for (key, value) in patch {
            if let nested = value as? [String: Any], let existing = base[key] as? [String: Any] { out[key] = merge(existing, nested) }
            else { out[key] = value }
        }
        return out
    }
}
