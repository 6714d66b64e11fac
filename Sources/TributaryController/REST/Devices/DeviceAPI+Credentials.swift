import Foundation
import Hummingbird
import TributaryStore

/// Who is calling the device API. Every route needs a bearer credential of one of three kinds:
///
/// - a **device key** (`trb_dev_…`, returned once by registration): acts only as its device;
/// - an **org key** (`trb_org_…`, created by an admin at `POST /api-keys`, as Octomil's org API
///   keys): registers devices into its org and acts for them — what an SDK that sends one
///   token on every call (Octomil's `FederatedClient`) holds — and runs its org's rounds;
/// - an **admin token** (the controller's JWT, when `--jwt-secret` is set): everything.
///
/// On a controller without `--jwt-secret` (whose REST API is open) the operator routes (key
/// management, listing every device, starting rounds) are open too; acting as a device and
/// registering one still need a key. Keys are stored only as SHA-256 hashes.
enum DevicePrincipal: Sendable {
    case device(DeviceRecord)
    case org(String)
    case admin

    var rateKey: String {
        switch self {
        case .device(let device): "device|\(device.id)"
        case .org(let org): "org|\(org)"
        case .admin: "admin"
        }
    }

    /// The org a caller is confined to (nil: any).
    var orgScope: String? {
        switch self {
        case .device(let device): device.orgId ?? ""
        case .org(let org): org
        case .admin: nil
        }
    }
}

extension DeviceAPI {
    static let deviceKeyPrefix = "trb_dev_"
    static let orgKeyPrefix = "trb_org_"

    /// The verified caller of `request`, counted against its rate limit.
    func caller(_ request: Request, anonymousOperator: Bool = false) async throws -> DevicePrincipal {
        let principal = try await identify(request, anonymousOperator: anonymousOperator)
        try await admit(principal)
        return principal
    }

    private func identify(_ request: Request, anonymousOperator: Bool) async throws -> DevicePrincipal {
        guard let header = request.headers[.authorization], !header.isEmpty else {
            if anonymousOperator && authentication == nil { return .admin }
            throw DeviceError.unauthorized("Missing API key: send 'Authorization: Bearer <api_key>'")
        }
        guard header.lowercased().hasPrefix("bearer "), header.count > 7 else {
            throw DeviceError.unauthorized("Invalid authorization scheme: send 'Authorization: Bearer <api_key>'")
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        if token.hasPrefix(Self.deviceKeyPrefix) {
            guard let device = try store.fetchAll(DeviceRecord.self, where: "api_key_hash", equals: Self.hash(token)).first else {
                throw DeviceError.unauthorized("Invalid API key")
            }
            return .device(device)
        }
        if token.hasPrefix(Self.orgKeyPrefix) {
            guard let key = try store.fetchAll(OrgKeyRecord.self, where: "key_hash", equals: Self.hash(token)).first, key.revokedAt == nil else {
                throw DeviceError.unauthorized("Invalid or revoked API key")
            }
            return .org(key.orgId)
        }
        guard let authentication else { throw DeviceError.unauthorized("Invalid API key") }
        let payload: APITokenPayload
        do { payload = try await authentication.verify(header: header) } catch {
            throw DeviceError.unauthorized("Invalid API key or token")
        }
        guard payload.role == "admin" else { throw DeviceError(status: .forbidden, message: "a '\(payload.role)' token may not use the device API") }
        return .admin
    }

    /// Counts a request of `principal` against its limit; 429 with `Retry-After` past it. A
    /// device key has `requestsPerMinute`; an org key, which acts for every device of its org
    /// (Octomil's SDK sends one key for all), that many per registered device.
    func admit(_ principal: DevicePrincipal) async throws {
        var limit = requestsPerMinute
        switch principal {
        case .admin: return
        case .org(let org):
            let devices = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM device WHERE org_id = ?", arguments: [org]) } ?? 0
            limit = requestsPerMinute * max(1, devices)
        case .device:
            break
        }
        let decision = await limiter.take(principal.rateKey, limit: limit, seconds: 60)
        guard decision.allowed else {
            throw DeviceError(status: .tooManyRequests, message: "rate limit of \(limit) requests a minute reached for this key",
                              retryAfter: decision.retryAfter)
        }
    }

    /// An operator (admin or org key), for routes that manage devices and rounds; 403 for a device key.
    func requireOperator(_ request: Request) async throws -> DevicePrincipal {
        let principal = try await caller(request, anonymousOperator: true)
        if case .device(let device) = principal {
            throw DeviceError(status: .forbidden, message: "device '\(device.deviceIdentifier)' may not use this route: it needs an org key or an admin token")
        }
        return principal
    }

    /// The device a request acts as: the key's own device, or — for an org key or admin — the
    /// device `named` (server id or identifier), which must be in the key's org.
    func actingDevice(_ principal: DevicePrincipal, named: String?) throws -> DeviceRecord {
        switch principal {
        case .device(let device):
            guard let named, named != device.id, named != device.deviceIdentifier else { return device }
            guard try find(named) != nil else { throw DeviceError.notFound("device '\(named)' is not registered") }
            throw DeviceError(status: .forbidden, message: "this API key belongs to device '\(device.deviceIdentifier)', not '\(named)'")
        case .org, .admin:
            guard let named, !named.isEmpty else { throw DeviceError.badRequest("field 'device_id' is required with an org key: the device to act for") }
            guard let device = try find(named), principal.orgScope.map({ $0 == device.orgId }) ?? true else {
                throw DeviceError.notFound("device '\(named)' is not registered\(principal.orgScope.map { " in org '\($0)'" } ?? "")")
            }
            return device
        }
    }

    /// `POST /api-keys` `{org_id, name}` → the key once; `GET /api-keys?org_id=`; `DELETE /api-keys/{id}` revokes.
    func registerKeys<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.post("api-keys") { request, _ in
            let principal = try await requireOperator(request)
            let body = try await request.bodyObject(allowEmpty: false)
            guard let org = try body.string("org_id"), !org.isEmpty else { throw DeviceError.badRequest("field 'org_id' is required") }
            if let scope = principal.orgScope, scope != org { throw DeviceError(status: .forbidden, message: "an org key of '\(scope)' cannot create keys for '\(org)'") }
            let key = Self.newKey(prefix: Self.orgKeyPrefix)
            let record = OrgKeyRecord(id: Store.newId(), orgId: org, name: try body.string("name") ?? "default", keyHash: Self.hash(key))
            try store.insert(record)
            return try APIResponse.object(["id": record.id, "org_id": org, "name": record.name, "api_key": key,
                                           "prefix": String(key.prefix(12)), "created_at": FLFormat.date(record.createdAt)], status: .created)
        }
        api.get("api-keys") { request, _ in
            let principal = try await requireOperator(request)
            guard let org = request.query("org_id") ?? principal.orgScope else { throw DeviceError.badRequest("query parameter 'org_id' is required") }
            let keys = try store.fetchAll(OrgKeyRecord.self, where: "org_id", equals: org)
            return try APIResponse.object(["api_keys": keys.map { ["id": $0.id, "org_id": $0.orgId, "name": $0.name, "created_at": FLFormat.date($0.createdAt),
                                                                   "revoked_at": FLFormat.date($0.revokedAt)] as [String: Any] }])
        }
        api.delete("api-keys/:id") { request, context in
            let principal = try await requireOperator(request)
            let id = try context.parameters.require("id")
            guard var key = try store.fetch(OrgKeyRecord.self, id: id), principal.orgScope.map({ $0 == key.orgId }) ?? true else {
                throw DeviceError.notFound("API key '\(id)' does not exist")
            }
            key.revokedAt = key.revokedAt ?? Date()
            try store.save(key)
            return try APIResponse.object(["id": id, "revoked_at": FLFormat.date(key.revokedAt)])
        }
    }
}
