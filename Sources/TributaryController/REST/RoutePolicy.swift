import Hummingbird

/// The role every route needs, declared in one place for all APIs (Scaleout Edge, FL
/// Framework, device, events, metrics, dashboard), by the route's pattern as the router holds
/// it (`/api/v1/sessions/{id}`). `APIAuthMiddleware` enforces it; a test enumerates the router
/// and fails on any route without a declaration, and an undeclared route is admin-only here
/// (fail closed).
///
/// - `open`: liveness, the Prometheus scrape, the dashboard's static files (the page holds no
///   data: it asks for a token and sends it with every call).
/// - `observer`: read-only — every GET of the Scaleout Edge API, its `list`/`count` queries,
///   the event stream; for `observer` tokens (dashboards, auditors) and admins.
/// - `client`: what a participant calls — FEDn's `clients/add`, package download and checksum,
///   token renewal, and the FL Framework API's participant routes; for `client` tokens and admins.
/// - `device`: the device API, which authenticates each request itself (device keys, org keys,
///   admin tokens: `DeviceAPI+Credentials.swift`).
/// - `admin`: everything that changes the network.
enum RouteRole: String, Sendable, CaseIterable {
    case open, observer, client, device, admin

    /// Whether a token of `tokenRole` may use a route of this role.
    func admits(_ tokenRole: String) -> Bool {
        switch self {
        case .open, .device: true
        case .observer: tokenRole == "admin" || tokenRole == "observer"
        case .client: tokenRole == "admin" || tokenRole == "client"
        case .admin: tokenRole == "admin"
        }
    }
}

enum RoutePolicy {
    static let openRoutes: Set<String> = ["GET /health", "GET /metrics", "GET /", "GET /dashboard", "GET /dashboard/{file}", "GET /fl/api/v1/health"]
    static let clientRoutes: Set<String> = [
        "POST /api/v1/clients/add", "GET /api/v1/packages/download", "GET /api/v1/packages/checksum", "POST /api/v1/auth/token",
        "GET /fl/api/v1/training/status",
    ]
    /// Reads that go through POST (FEDn's list and count queries).
    static let observerPosts: Set<String> = ["POST /api/v1/attributes/current", "POST /api/v1/combiners/clients/count"]
    /// The FL Framework API's operator routes (training control, experiments).
    static let flAdminPrefixes = ["/fl/api/v1/training/", "/fl/api/v1/experiments"]

    /// The role `method` on the route `pattern` needs; nil when nothing declares it.
    static func role(_ method: HTTPRequest.Method, _ pattern: String) -> RouteRole? {
        let key = "\(method) \(pattern)"
        if pattern == DeviceAPI.base || pattern.hasPrefix(DeviceAPI.base + "/") { return .device }
        if openRoutes.contains(key) { return .open }
        if clientRoutes.contains(key) { return .client }
        if pattern.hasPrefix(FLFrameworkAPI.base + "/") {
            if flAdminPrefixes.contains(where: { pattern.hasPrefix($0) }) { return method == .get ? .observer : .admin }
            return .client
        }
        // The FL Framework API's event stream is its participants'; the network's is for observers.
        if pattern == "/fl/ws/events" { return method == .get ? .client : nil }
        if pattern == "/get_controller_status" || pattern == "/ws/events" { return method == .get ? .observer : nil }
        guard pattern.hasPrefix("/api/v1/") else { return nil }
        if method == .get || observerPosts.contains(key) || (method == .post && (pattern.hasSuffix("/list") || pattern.hasSuffix("/count"))) {
            return .observer
        }
        return .admin
    }
}
