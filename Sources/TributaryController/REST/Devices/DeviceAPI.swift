import Crypto
import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// The device API (seed `004_…`; Octomil's SDKs are its real clients) at its own base URL,
/// `/device-api/api/v1` — Octomil's `/models/{id}` means something else than FEDn's, so it
/// cannot share `/api/v1`. This part: registration with a one-time API key (kept only as a
/// SHA-256 hash), listing, lookup by server id or identifier, and heartbeats (PUT or POST, by
/// id or id-less) that keep each device's liveness — online, stale after 2 missed heartbeat
/// intervals, offline after 5, as for nng clients.
///
/// Credentials (device keys, org keys, admin tokens) are in `DeviceAPI+Credentials.swift`: a
/// device key lets its holder act only as that device (a heartbeat for another is a 403);
/// every key is rate-limited (default 100 requests a minute: 429 with `Retry-After`).
struct DeviceAPI: Sendable {
    static let mountPoint = "/device-api"
    static let base = mountPoint + "/api/v1"
    static let platforms: Set<String> = ["python", "ios", "android", "edge", "browser", "node"]

    let store: Store
    let authentication: APIAuthentication?
    let sessions: SessionManager
    let cohort: HTTPCohort
    let limiter: FixedWindowLimiter
    /// Bounds the model uploads read at once (memory: a few models, whatever the number of devices).
    let uploads: UploadSlots
    let requestsPerMinute: Int
    /// How often devices are expected to heartbeat.
    let heartbeatInterval: TimeInterval
    /// Allowed `timeout_seconds` of a device round (the seed's 60–3600; tests lower the floor).
    var roundTimeoutRange: ClosedRange<Int> = 60...3600

    func register<Context: RequestContext>(on router: Router<Context>) {
        let api = router.group(RouterPath(Self.base)).add(middleware: DeviceErrorMiddleware())
        api.post("devices/register") { request, _ in try await registerDevice(request) }
        api.get("devices") { request, _ in try await listDevices(request) }
        api.get("devices/:id") { request, context in
            let principal = try await caller(request)
            let device = try actingDevice(principal, named: try context.parameters.require("id"))
            return try APIResponse.object(present(device, detailed: true))
        }
        // Removing a device revokes its key at once (the row, and so the key's hash, is gone).
        api.delete("devices/:id") { request, context in
            let principal = try await requireOperator(request)
            let device = try actingDevice(principal, named: try context.parameters.require("id"))
            _ = try store.delete(DeviceRecord.self, id: device.id)
            return try APIResponse.object(["id": device.id, "device_identifier": device.deviceIdentifier, "deleted": true])
        }
        for method in [HTTPRequest.Method.put, .post] {
            api.on("devices/:id/heartbeat", method: method) { request, context in
                try await heartbeat(request, id: try context.parameters.require("id"))
            }
            api.on("devices/heartbeat", method: method) { request, _ in try await heartbeat(request, id: nil) }
        }
        registerKeys(on: api)
        registerRounds(on: api)
        registerSecureAggregation(on: api)
        registerRoundOperations(on: api)
        registerWeights(on: api)
        registerModels(on: api)
        registerJobs(on: api)
        registerPersonalization(on: api)
    }

    // MARK: registration and lookup

    /// Needs an org key (the device joins its org) or an admin token: nobody joins without a credential.
    private func registerDevice(_ request: Request) async throws -> Response {
        let principal = try await caller(request)
        if case .device = principal { throw DeviceError(status: .forbidden, message: "a device key cannot register devices: use an org key") }
        let body = try await request.bodyObject(allowEmpty: false)
        guard let identifier = try body.string("device_identifier") ?? body.string("device_id"),
              (1...255).contains(identifier.count), identifier.allSatisfy({ !$0.isWhitespace && !$0.isNewline })
        else { throw DeviceError.badRequest("field 'device_id' (or 'device_identifier') is required: 1 to 255 characters, no spaces") }
        let platform = try body.string("platform") ?? "python"
        guard Self.platforms.contains(platform) else {
            throw DeviceError.badRequest("field 'platform' must be one of \(Self.platforms.sorted().joined(separator: ", ")), got '\(platform)'")
        }
        let capabilities = body["capabilities"] ?? [String: Any]()
        guard capabilities is [String: Any] else { throw DeviceError.badRequest("field 'capabilities' must be an object") }
        var orgId = try body.string("org_id")
        if let scope = principal.orgScope {
            // Octomil's SDK sends its configured org (default "default"); the key decides.
            orgId = scope
        }
        var rest = body
        for key in ["device_identifier", "device_id", "platform", "capabilities", "org_id"] { rest[key] = nil }
        let key = Self.newKey(prefix: Self.deviceKeyPrefix)
        let device = DeviceRecord(id: Store.newId(), deviceIdentifier: identifier, orgId: orgId, platform: platform,
                                  capabilities: try Self.json(capabilities), registration: try Self.json(rest), apiKeyHash: Self.hash(key))
        do { try store.insert(device) } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw DeviceError(status: .conflict, message: "a device with device_id '\(identifier)' is already registered")
        }
        var out = present(device, detailed: true)
        out["api_key"] = key
        out["registered_at"] = out["created_at"]
        out["metadata"] = rest
        return try APIResponse.object(out, status: .created)
    }

    private func listDevices(_ request: Request) async throws -> Response {
        let principal = try await requireOperator(request)
        guard let org = request.query("org_id").flatMap({ $0.isEmpty ? nil : $0 }) ?? principal.orgScope else {
            throw DeviceError.badRequest("query parameter 'org_id' is required")
        }
        if let scope = principal.orgScope, scope != org { throw DeviceError(status: .forbidden, message: "this key belongs to org '\(scope)', not '\(org)'") }
        let limit = try Self.integer(request, "limit", default: 100, range: 1...1000)
        let offset = try Self.integer(request, "offset", default: 0, range: 0...Int(Int32.max))
        let platform = request.query("platform"), status = request.query("status")
        let statuses: Set<String> = ["online", "stale", "offline", "active", "inactive"]
        if let status, !statuses.contains(status) { throw DeviceError.badRequest("query parameter 'status' must be one of \(statuses.sorted().joined(separator: ", "))") }
        var devices = try await store.database.read { db in
            try DeviceRecord.filter(sql: "org_id = ?", arguments: [org]).order(sql: "created_at, id").fetchAll(db)
        }
        if let platform { devices = devices.filter { $0.platform == platform } }
        if let status { devices = devices.filter { liveness($0) == status || $0.reportedStatus == status } }
        let page = devices.dropFirst(offset).prefix(limit).map { device in
            ["id": device.id, "device_identifier": device.deviceIdentifier, "org_id": device.orgId as Any, "platform": device.platform,
             "status": liveness(device), "last_seen_at": FLFormat.date(device.lastHeartbeat ?? device.createdAt)] as [String: Any]
        }
        return try APIResponse.object(["devices": Array(page), "total": devices.count, "limit": limit, "offset": offset])
    }

    /// By server id, else by the device's own identifier.
    func find(_ id: String) throws -> DeviceRecord? {
        if let device = try store.fetch(DeviceRecord.self, id: id) { return device }
        return try store.fetchAll(DeviceRecord.self, where: "device_identifier", equals: id).first
    }

    /// online / stale (2 missed heartbeats) / offline (5 missed, or never heard from after that long).
    func liveness(_ device: DeviceRecord, now: Date = Date()) -> String {
        let silent = now.timeIntervalSince(device.lastHeartbeat ?? device.createdAt)
        if silent > 5 * heartbeatInterval { return "offline" }
        return silent > 2 * heartbeatInterval ? "stale" : "online"
    }

    func present(_ device: DeviceRecord, detailed: Bool) -> [String: Any] {
        var out: [String: Any] = [
            "id": device.id, "device_id": device.deviceIdentifier, "device_identifier": device.deviceIdentifier,
            "org_id": device.orgId as Any? ?? NSNull(), "platform": device.platform, "status": liveness(device),
            "reported_status": device.reportedStatus, "last_heartbeat": FLFormat.date(device.lastHeartbeat),
            "created_at": FLFormat.date(device.createdAt),
        ]
        if detailed { out["capabilities"] = (try? JSONSerialization.jsonObject(with: Data(device.capabilities.utf8))) ?? [:] }
        return out
    }

    // MARK: keys

    /// A fresh key: the prefix and 32 random base-62 characters (190 bits).
    static func newKey(prefix: String) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var generator = SystemRandomNumberGenerator()
        return prefix + String((0..<32).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }

    static func hash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func json(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    static func integer(_ request: Request, _ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.query(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw DeviceError.badRequest("query parameter '\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return value
    }
}
