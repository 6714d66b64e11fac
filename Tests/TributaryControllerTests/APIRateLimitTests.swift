import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

/// Per-identity rate limits on the REST API: a flooding token gets 429 with `Retry-After`
/// (bounded by count, not time), another token's requests still succeed, and the flood is one
/// status event, not one per request.
@Suite("REST API rate limit per token")
struct APIRateLimitTests {
    @Test("A flooding client token is refused with 429 + Retry-After past its limit; another client is unaffected; one RATE_LIMITED event")
    func flooderIsLimitedOthersAreNot() async throws {
        try await withController(jwtSecret: AuthRouteTests.secret, configure: { $0.apiRequestsPerMinute = 10 }) { service, client in
            let flooder = ["Authorization": "Bearer \(try await AuthRouteTests.token(role: "client"))"]
            let other = ["Authorization": "Bearer \(try await AuthRouteTests.token(role: "client", days: 2))"]
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<15 { statuses.append(try await client.get("/api/v1/packages/checksum", headers: flooder).status) }
            #expect(!statuses.prefix(10).contains(.tooManyRequests) && statuses.suffix(5).allSatisfy { $0 == .tooManyRequests }, "\(statuses)")
            let limited = try await client.get("/api/v1/packages/checksum", headers: flooder)
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1 && limited.message().contains("Rate limit"), "\(limited.text)")
            for _ in 0..<5 { #expect(try await client.get("/api/v1/packages/checksum", headers: other).status != .tooManyRequests) }
            let events = try service.store.fetchAll(StatusRecord.self, where: "type", equals: "RATE_LIMITED")
            #expect(events.count == 1 && events[0].senderRole == "client", "\(events)")
        }
    }
}
