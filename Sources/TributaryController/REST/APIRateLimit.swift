import Crypto
import Foundation
import Hummingbird
import Metrics
import TributaryStore

/// Requests a minute per identity on the token-authenticated APIs (each bearer token is an
/// identity): past the limit a 429 with `Retry-After`, counted in
/// `tributary_rate_limited_total{api="rest"}` and recorded once per identity and window as a
/// `RATE_LIMITED` status event — so a flooding client is refused while everyone else's requests
/// go through. The device and FL Framework APIs keep their own per-key limits.
struct APIRateLimit: Sendable {
    let limiter: FixedWindowLimiter
    let requestsPerMinute: Int
    let store: Store?

    /// nil when the request may go on; the 429 to send otherwise.
    func refusal(forBearer header: String, role: String) async -> Response? {
        let identity = SHA256.hash(data: Data(header.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        let decision = await limiter.take("rest|\(identity)", limit: requestsPerMinute, seconds: 60)
        guard !decision.allowed else { return nil }
        Counter(label: "tributary_rate_limited_total", dimensions: [("api", "rest")]).increment()
        // The first refusal of a window: one event per flooder and minute, not one per request.
        if await limiter.take("rest-audit|\(identity)", limit: 1, seconds: 60).allowed {
            try? store?.insert(StatusRecord(status: "rate limit of \(requestsPerMinute) requests a minute reached by a '\(role)' token (…\(identity.suffix(6)))",
                                            logLevel: "WARNING", type: "RATE_LIMITED", sessionId: nil, roundNumber: nil, senderName: "token-\(identity.suffix(6))", senderRole: role))
        }
        var headers = HTTPFields()
        headers[.retryAfter] = "\(decision.retryAfter)"
        headers[.contentType] = "application/json"
        let body = "{\"message\": \"Rate limit of \(requestsPerMinute) requests a minute reached; retry after \(decision.retryAfter) s\"}"
        return Response(status: .tooManyRequests, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
