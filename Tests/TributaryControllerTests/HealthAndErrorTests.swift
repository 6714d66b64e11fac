import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController

@Suite("Health and error bodies")
struct HealthAndErrorTests {
    @Test("GET /health answers 200 OK")
    func health() async throws {
        try await withController { _, client in
            let response = try await client.get("/health")
            #expect(response.status == .ok)
            #expect(response.message() == "OK")
        }
    }

    @Test("An unknown route is a 404 with a JSON message", arguments: [
        "/nope", "/api/v1/nope", "/api/v1/sessions/abc/def", "/api/v2/sessions/",
    ])
    func unknownRoute(path: String) async throws {
        try await withController { _, client in
            let response = try await client.get(path)
            #expect(response.status == .notFound)
            #expect(!response.message().isEmpty)
        }
    }

    @Test("A wrong method on a known path answers with a JSON message")
    func wrongMethod() async throws {
        try await withController { _, client in
            let response = try await client.execute(uri: "/api/v1/sessions/start", method: .delete)
            #expect(response.status.code >= 400 && response.status.code < 500)
            #expect(!response.message().isEmpty)
        }
    }

    @Test("Unknown ids are 404 with a JSON message naming the id", arguments: [
        "sessions", "rounds", "models", "clients", "combiners",
    ])
    func unknownId(group: String) async throws {
        try await withController { _, client in
            let response = try await client.get("/api/v1/\(group)/no-such-id")
            #expect(response.status == .notFound)
            #expect(response.message().contains("no-such-id"))
        }
    }
}
