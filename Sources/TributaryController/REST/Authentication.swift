import Foundation
import Hummingbird
import TributaryWire
import JWTKit

/// What an API token carries: FEDn's `role` claim (`admin` or `client`), who it is for and
/// when it expires. A client token with a `client_id` is bound to that client: `clients/add`
/// refuses it for any other id, so a stolen token cannot enrol (or obtain the peer token of)
/// another client.
struct APITokenPayload: JWTPayload {
    var sub: SubjectClaim?
    var role: String
    var exp: ExpirationClaim
    var clientId: String?

    enum CodingKeys: String, CodingKey {
        case sub, role, exp, clientId = "client_id"
    }

    func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}

/// Bearer-JWT authentication of the REST API (HS256 with the controller's secret), off
/// unless a secret is configured — as FEDn does with `FEDN_JWT_SECRET_KEY`. The `role` claim
/// is `admin`, `client` or `observer`; which role each route needs is `RoutePolicy`'s.
public struct APIAuthentication: Sendable {
    private let keys: Task<JWTKeyCollection, Never>
    static let roles = ["admin", "client", "observer"]

    public init(secret: String) {
        keys = Task {
            let keys = JWTKeyCollection()
            // JWTKit asserts (crashing debug builds) on keys shorter than the 32-byte digest.
            // HMAC zero-pads short keys anyway (RFC 2104), so padding here signs exactly as the
            // raw secret does: tokens stay interchangeable with FEDn's (PyJWT) ones.
            var key = Array(secret.utf8)
            if key.count < 32 { key += [UInt8](repeating: 0, count: 32 - key.count) }
            await keys.add(hmac: HMACKey(from: key), digestAlgorithm: .sha256)
            return keys
        }
    }

    /// A signed token for `role`, valid for `days`; a client token bound to `clientId` when given.
    public func issue(role: String, subject: String?, days: Double, clientId: String? = nil) async throws -> (token: String, expires: Date) {
        let expires = Date().addingTimeInterval(days * 86_400)
        let payload = APITokenPayload(sub: subject.map(SubjectClaim.init(value:)), role: role, exp: ExpirationClaim(value: expires), clientId: clientId)
        return (try await keys.value.sign(payload), expires)
    }

    /// The verified payload of an `Authorization` header; a 401 with FEDn's messages otherwise.
    func verify(header: String?) async throws -> APITokenPayload {
        guard let header, !header.isEmpty else { throw APIError(status: .unauthorized, message: "Missing token") }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(status: .unauthorized, message: "Invalid token scheme, expected Bearer")
        }
        do {
            return try await keys.value.verify(String(parts[1]), as: APITokenPayload.self)
        } catch let error as JWTError where "\(error)".contains("expired") {
            throw APIError(status: .unauthorized, message: "Token expired")
        } catch {
            throw APIError(status: .unauthorized, message: "Invalid token")
        }
    }
}

/// Checks the bearer token of every API request when authentication is on, against the role
/// its route declares (`RoutePolicy`).
struct APIAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let authentication: APIAuthentication?
    var rateLimit: APIRateLimit? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path.count > 1 && request.uri.path.hasSuffix("/") ? String(request.uri.path.dropLast()) : request.uri.path
        // The router has resolved the route by now: its pattern, not the concrete path, names it.
        let pattern = context.endpointPath.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? path
        let role = RoutePolicy.role(request.method, pattern) ?? .admin
        guard let authentication, role != .open, role != .device else { return try await next(request, context) }
        // Browsers cannot set headers on a WebSocket handshake, so /ws/events also takes the
        // token as `?token=` (the dashboard's way in).
        let header = request.header("Authorization") ?? (path.hasSuffix("/ws/events") ? request.uri.queryParameters.get("token").map { "Bearer \($0)" } : nil)
        let payload = try await authentication.verify(header: header)
        guard role.admits(payload.role) else {
            throw APIError(status: .forbidden, message: "A '\(payload.role)' token may not use \(request.method) \(path) (it needs \(role.rawValue))")
        }
        if let rateLimit, let header, let refused = await rateLimit.refusal(forBearer: header, role: payload.role) { return refused }
        return try await next(request, context)
    }
}

/// `POST /api/v1/auth/token`: a new long-lived token, for a caller holding a valid one. An
/// admin may issue admin, client or observer tokens; a client only client tokens.
struct AuthRoutes {
    let authentication: APIAuthentication?
    let peerIssuer: PeerTokenIssuer?

    func register<Context: RequestContext>(on router: Router<Context>) {
        // `POST /api/v1/auth/peer-token {role: combiner|client, name, expires_in_days}` (admin):
        // a peer token for nng, signed with the controller's Ed25519 key.
        router.post("/api/v1/auth/peer-token") { request, _ in
            guard let peerIssuer else {
                throw APIError.badRequest("peer authentication is not enabled on this controller (start it with --peer-auth)")
            }
            let body = try await request.bodyObject()
            guard let role = try body.string("role").flatMap(PeerRole.init(rawValue:)) else { throw APIError.badRequest("field 'role' must be combiner or client") }
            guard let name = try body.string("name"), !name.isEmpty, name.utf8.count <= 256 else { throw APIError.badRequest("field 'name' is required: 1 to 256 bytes") }
            let days = try body.number("expires_in_days") ?? 30
            guard days > 0, days <= 3650 else { throw APIError.badRequest("field 'expires_in_days' must be between 0 and 3650") }
            let token = try await peerIssuer.issue(role: role, name: name, lifetime: .seconds(days * 86_400))
            return try APIResponse.object(["token": token, "role": role.rawValue, "name": name], status: .created)
        }
        router.post("/api/v1/auth/token") { request, _ in
            guard let authentication else {
                throw APIError.badRequest("authentication is not enabled on this controller (start it with --jwt-secret)")
            }
            let caller = try await authentication.verify(header: request.header("Authorization"))
            let body = try await request.bodyObject()
            let role = try body.string("token_type") ?? "client"
            guard APIAuthentication.roles.contains(role) else { throw APIError.badRequest("field 'token_type' must be admin, client or observer") }
            guard caller.role == "admin" || role == caller.role else {
                throw APIError(status: .forbidden, message: "a '\(caller.role)' token cannot issue '\(role)' tokens")
            }
            let days = try body.number("expires_in_days") ?? 365
            guard days > 0, days <= 3650 else { throw APIError.badRequest("field 'expires_in_days' must be between 0 and 3650") }
            // A bound client token renews only itself; an admin may bind a new client token to any id.
            let clientId = try caller.clientId ?? body.string("client_id")
            if let bound = caller.clientId, let asked = try body.string("client_id"), asked != bound {
                throw APIError(status: .forbidden, message: "this token is bound to client '\(bound)' and cannot issue one for '\(asked)'")
            }
            guard clientId == nil || role == "client" else { throw APIError.badRequest("field 'client_id' binds client tokens only") }
            let issued = try await authentication.issue(role: role, subject: caller.sub?.value, days: days, clientId: clientId)
            var reply: [String: Any] = ["token": issued.token, "expires_at": ISO8601DateFormatter().string(from: issued.expires), "token_type": role]
            if let clientId { reply["client_id"] = clientId }
            return try APIResponse.object(reply, status: .created)
        }
    }
}
