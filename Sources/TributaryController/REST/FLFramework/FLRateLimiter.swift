import Foundation
import HTTPTypes
import Hummingbird

/// The FL Framework API's rate limits, per identity and fixed window, as its documentation
/// states them: 100 requests a minute per client, 10 model uploads a minute per client, 5
/// training starts an hour per user (all configurable). Every response carries the
/// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (Unix time) of the tightest bucket the
/// request counts against; past a limit the answer is 429 `RATE_LIMITED` with `Retry-After`.
///
/// The identity is the bearer token when there is one, else the client id the path names,
/// else one shared anonymous identity — so one client's flood does not use another's allowance.
struct FLRateLimiter: Sendable {
    typealias Limits = FLRateLimits
    typealias Decision = FixedWindowLimiter.Decision

    enum Bucket: String, Sendable { case general, upload, trainingStart }

    private let limits: Limits
    private let windows = FixedWindowLimiter()

    init(limits: Limits) { self.limits = limits }

    func limit(of bucket: Bucket) -> (count: Int, seconds: TimeInterval) {
        switch bucket {
        case .general: (limits.requestsPerMinute, 60)
        case .upload: (limits.uploadsPerMinute, 60)
        case .trainingStart: (limits.trainingStartsPerHour, 3600)
        }
    }

    /// Counts one request of `identity` against `bucket`.
    func take(_ bucket: Bucket, identity: String) async -> Decision {
        let (count, seconds) = limit(of: bucket)
        return await windows.take("\(bucket.rawValue)|\(identity)", limit: count, seconds: seconds)
    }
}

/// The FL Framework API's limits per identity (its documentation's numbers by default).
public struct FLRateLimits: Sendable {
    public var requestsPerMinute = 100
    public var uploadsPerMinute = 10
    public var trainingStartsPerHour = 5
    public init() {}
}

/// Applies `FLRateLimiter` to every FL Framework route and sets the headers on every answer.
struct FLRateLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limiter: FLRateLimiter
    let base: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let identity = Self.identity(request, base: base)
        let path = request.uri.path.dropFirst(base.count)
        var decision = await limiter.take(.general, identity: identity)
        if decision.allowed, request.method == .post {
            if path.hasPrefix("/model/update/") { decision = await limiter.take(.upload, identity: identity) }
            if path.hasPrefix("/training/start") { decision = await limiter.take(.trainingStart, identity: identity) }
        }
        var response: Response
        if decision.allowed {
            response = try await next(request, context)
        } else {
            let wait = decision.retryAfter
            context.logger.notice("rate limited", metadata: ["path": "\(request.uri.path)", "identity": "\(identity.prefix(24))"])
            response = FLError(.tooManyRequests, "RATE_LIMITED", "Too many requests",
                               details: "limit of \(decision.limit) reached; retry in \(wait) s").response
            response.headers[.retryAfter] = "\(wait)"
        }
        response.headers[HTTPField.Name("X-RateLimit-Limit")!] = "\(decision.limit)"
        response.headers[HTTPField.Name("X-RateLimit-Remaining")!] = "\(decision.remaining)"
        response.headers[HTTPField.Name("X-RateLimit-Reset")!] = "\(Int(decision.reset.timeIntervalSince1970.rounded(.up)))"
        return response
    }

    static func identity(_ request: Request, base: String) -> String {
        if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer "), auth.count > 7 { return "token:" + auth.dropFirst(7) }
        let parts = request.uri.path.dropFirst(base.count).split(separator: "/")
        for (i, part) in parts.enumerated() where i + 1 < parts.count {
            if ["clients", "update", "validate"].contains(part), parts[i + 1] != "register", parts[i + 1] != "select" { return "client:" + parts[i + 1] }
        }
        return "anonymous"
    }
}
