import Foundation
import Hummingbird
import TributaryStore

/// Writes of the event-like resources peers and tools push: `POST /api/v1/statuses`,
/// `GET /api/v1/statuses/histogram`, `POST /api/v1/attributes` and `/attributes/current`,
/// `POST /api/v1/telemetry`.
struct EventRecordRoutes {
    let store: Store
    let statuses: Resource<StatusRecord>
    let attributes: Resource<AttributeRecord>
    let telemetry: Resource<TelemetryRecord>
    private var nodes: NodeResolution { NodeResolution(store: store) }

    init(store: Store, statuses: Resource<StatusRecord>, attributes: Resource<AttributeRecord>, telemetry: Resource<TelemetryRecord>) {
        self.store = store
        self.statuses = statuses
        self.attributes = attributes
        self.telemetry = telemetry
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/statuses") { request, _ in
            let body = try await request.bodyObject()
            try body.onlyKeys(["sender", "type", "log_level", "status", "session_id", "round_number", "correlation_id", "data", "extra"])
            let sender = try nodes.sender(body["sender"], required: true)
            guard sender.clientId != nil || sender.combinerId != nil else {
                throw APIError.badRequest("field 'sender' must name a known client (client_id) or combiner (combiner_id)")
            }
            let level = try body.string("log_level") ?? "INFO"
            guard ["DEBUG", "INFO", "WARNING", "ERROR", "AUDIT"].contains(level) else {
                throw APIError.badRequest("field 'log_level' must be one of DEBUG, INFO, WARNING, ERROR, AUDIT")
            }
            let data: String? = try body["data"].map { value in
                if let text = value as? String { return text }
                return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
            }
            let event = StatusRecord(
                status: try body.string("status", required: true)!, logLevel: level, type: try body.string("type", required: true)!,
                sessionId: try body.string("session_id"), roundNumber: try body.integer("round_number"), sender: sender,
                correlationId: try body.string("correlation_id"), data: data, extra: try body.string("extra"))
            try store.insert(event)
            return try APIResponse.object(statuses.present(event), status: .created)
        }
        router.get("/api/v1/statuses/histogram") { request, _ in
            var query = try request.listQuery()
            let buckets = try query.filters.removeValue(forKey: "buckets").map { values -> Int in
                guard let n = Int(values[0]), (1...200).contains(n) else { throw APIError.badRequest("query parameter 'buckets' must be 1 to 200") }
                return n
            } ?? 50
            let start = try query.filters.removeValue(forKey: "start_date").map { try Self.date($0[0], "start_date") }
            let end = try query.filters.removeValue(forKey: "end_date").map { try Self.date($0[0], "end_date") }
            if let start, let end, end <= start { throw APIError.badRequest("query parameter 'end_date' must be after 'start_date'") }
            let counts: [(start: Date, count: Int)]
            do {
                counts = try store.histogram(StatusRecord.self, columns: statuses.columns, query: query, start: start, end: end, buckets: buckets)
            } catch let error as StoreError {
                throw APIError.badRequest(error.description)
            }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return try APIResponse.object(counts.map { ["timestamp": formatter.string(from: $0.start), "count": $0.count] })
        }
        router.post("/api/v1/attributes") { request, _ in
            let body = try await request.bodyObject()
            try body.onlyKeys(["key", "value", "sender"])
            guard let key = try body.string("key", required: true) else { throw APIError.badRequest("missing field 'key'") }
            guard let raw = body["value"], !(raw is NSNull) else { throw APIError.badRequest("missing field 'value'") }
            let value = raw as? String ?? "\(raw)"
            let attribute = AttributeRecord(key: key, value: value, sender: try nodes.sender(body["sender"], required: true))
            try store.insert(attribute)
            return try APIResponse.object(attributes.present(attribute), status: .created)
        }
        router.post("/api/v1/attributes/current") { request, _ in
            let body = try await request.bodyObject()
            guard let ids = (body["client_ids"] ?? body["entity_ids"]) as? [String] else {
                throw APIError.badRequest("field 'client_ids' (or 'entity_ids') must be a list of client ids")
            }
            var result: [String: Any] = [:]
            for id in ids {
                if try store.fetch(ClientRecord.self, id: id) == nil { result[id] = "Entity with client_id: \(id) not found"; continue }
                result[id] = try store.currentAttributes(clientId: id)
            }
            return try APIResponse.object(result)
        }
        router.post("/api/v1/telemetry") { request, _ in
            let body = try await request.bodyObject()
            try body.onlyKeys(["key", "value", "client_id", "session_id", "meta", "sender"])
            guard let key = try body.string("key", required: true) else { throw APIError.badRequest("missing field 'key'") }
            let value = try body.number("value")
            if let value, !value.isFinite { throw APIError.badRequest("field 'value' must be a finite number") }
            var sender = try nodes.sender(body["sender"], required: false)
            let clientId = try body.string("client_id") ?? sender.clientId
            if let clientId, sender.clientId == nil { sender = try nodes.sender(["client_id": clientId], required: true) }
            let meta: String? = try body["meta"].flatMap { value in
                guard !(value is NSNull) else { return nil }
                guard value is [String: Any] else { throw APIError.badRequest("field 'meta' must be an object") }
                return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
            }
            let reading = TelemetryRecord(key: key, value: value, clientId: clientId, sessionId: try body.string("session_id"), meta: meta, sender: sender)
            try store.insert(reading)
            return try APIResponse.object(telemetry.present(reading), status: .created)
        }
    }

    static func date(_ text: String, _ field: String) throws -> Date {
        if let date = ListQuery.isoDate(text) { return date }
        throw APIError.badRequest("query parameter '\(field)' must be an ISO-8601 date or datetime")
    }
}
