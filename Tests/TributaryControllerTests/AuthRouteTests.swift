import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Bearer-JWT authentication and POST /api/v1/auth/token")
struct AuthRouteTests {
    static let secret = "s3cret"

    static func token(role: String, days: Double = 1, secret: String = AuthRouteTests.secret) async throws -> String {
        try await APIAuthentication(secret: secret).issue(role: role, subject: "tester", days: days).token
    }

    static func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

    @Test("Requests without a valid bearer token are 401 with FEDn's messages")
    func unauthorized() async throws {
        let expired = try await Self.token(role: "admin", days: -1)
        let foreign = try await Self.token(role: "admin", secret: "other")
        try await withController(jwtSecret: Self.secret) { _, client in
            let cases: [([String: String], String)] = [
                ([:], "Missing token"), (["Authorization": ""], "Missing token"),
                (["Authorization": "Basic dXNlcjpwdw=="], "Invalid token scheme, expected Bearer"),
                (["Authorization": "Bearer"], "Invalid token scheme, expected Bearer"),
                (["Authorization": "Bearer not.a.jwt"], "Invalid token"), (["Authorization": "Bearer garbage"], "Invalid token"),
                (Self.bearer(foreign), "Invalid token"), (Self.bearer(expired), "Token expired"),
            ]
            for path in ["/api/v1/sessions/", "/get_controller_status", "/api/v1/clients/add", "/api/v1/nope"] {
                for (headers, message) in cases {
                    let response = try await client.get(path, headers: headers)
                    #expect(response.status == .unauthorized, "\(path) \(headers)")
                    #expect(response.message() == message, "\(path) \(headers)")
                }
            }
        }
    }

    @Test("An admin token reaches every route; /health and /metrics need none")
    func admin() async throws {
        let admin = try await Self.token(role: "admin")
        try await withController(jwtSecret: Self.secret) { service, client in
            _ = try Fixtures.storeModel(service)
            #expect(try await client.get("/api/v1/sessions/", headers: Self.bearer(admin)).list().count == 0)
            #expect(try await client.get("/api/v1/models/count", headers: ["Authorization": "bearer \(admin)"]).integer() == 1)
            #expect(try await client.get("/get_controller_status", headers: Self.bearer(admin)).object()["state"] as? String == "idle")
            let created = try await client.post("/api/v1/sessions/", json: "{\"name\": \"s\"}", headers: Self.bearer(admin))
            #expect(created.status == .created)
            try await client.get("/api/v1/sessions/ghost", headers: Self.bearer(admin)).expectNotFound(naming: "ghost")
            #expect(try await client.get("/health").status == .ok)
            #expect(try await client.get("/metrics").status == .ok)
        }
    }

    @Test("A client token bound to one client id enrols only that client and renews only bound to it; an unbound client token enrols any id")
    func boundClientToken() async throws {
        let bound = try await APIAuthentication(secret: Self.secret).issue(role: "client", subject: "site-a", days: 1, clientId: "site-a").token
        let fleet = try await Self.token(role: "client")
        try await withController(jwtSecret: Self.secret) { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7500)
            #expect(try await ClientAddTests.add(client, "site-a", headers: Self.bearer(bound)).status == .ok)
            let other = try await ClientAddTests.add(client, "site-b", headers: Self.bearer(bound))
            #expect(other.status == .forbidden && other.message().contains("bound to client 'site-a'"), "\(other.text)")
            #expect(try await ClientAddTests.add(client, "site-b", headers: Self.bearer(fleet)).status == .ok)
            let renewal = try await client.post("/api/v1/auth/token", json: "{}", headers: Self.bearer(bound)).object()
            let renewed = try #require(renewal["token"] as? String)
            #expect(renewal["client_id"] as? String == "site-a")
            #expect(try await ClientAddTests.add(client, "site-c", headers: Self.bearer(renewed)).status == .forbidden)
            #expect(try await client.post("/api/v1/auth/token", json: "{\"client_id\": \"site-c\"}", headers: Self.bearer(bound)).status == .forbidden)
        }
    }

    @Test("A token signed elsewhere with the raw short secret (as PyJWT does for FEDn) is accepted")
    func foreignToken() async throws {
        // HS256 over {"role":"admin","exp":4102444800} with key "s3cret", made with Python's hmac module.
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYWRtaW4iLCJleHAiOjQxMDI0NDQ4MDB9.JCXjhvkWPbUwGmnynHD3cpcB2v0QScMKHw4J783PjBE"
        try await withController(jwtSecret: Self.secret) { _, client in
            let accepted = try await client.get("/api/v1/sessions/count", headers: Self.bearer(token))
            #expect(accepted.status == .ok, "\(accepted.text)")
            #expect(accepted.integer() == 0)
            // Change the signature's first character (its last one may only hold padding bits).
            let signature = try #require(token.split(separator: ".").last)
            let tampered = String(token.dropLast(signature.count)) + (signature.hasPrefix("A") ? "B" : "A") + String(signature.dropFirst())
            let refused = try await client.get("/api/v1/sessions/count", headers: Self.bearer(tampered))
            #expect(refused.status == .unauthorized)
            #expect(refused.message() == "Invalid token")
        }
    }

    @Test("A client token may call what clients call, and nothing else (403)")
    func clientRole() async throws {
        let token = try await Self.token(role: "client")
        try await withController(jwtSecret: Self.secret) { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7700)
            let added = try await client.post("/api/v1/clients/add", json: "{\"client_id\": \"site-1\"}", headers: Self.bearer(token))
            #expect(added.status == .ok, "\(added.text)")
            #expect(added.object()["combiner"] as? String == "comb-a")
            // Past authentication, the route's own answers: no active package is a 404, not a 403.
            #expect(try await client.get("/api/v1/packages/checksum", headers: Self.bearer(token)).status == .notFound)
            try await client.get("/api/v1/packages/download/", headers: Self.bearer(token)).expectNotFound(naming: "no package is active")

            for (method, path) in [("GET", "/api/v1/sessions/"), ("GET", "/api/v1/clients/"), ("POST", "/api/v1/sessions/"),
                                   ("GET", "/get_controller_status"), ("GET", "/api/v1/packages/active")] {
                let response = method == "GET" ? try await client.get(path, headers: Self.bearer(token))
                                                : try await client.post(path, json: "{}", headers: Self.bearer(token))
                #expect(response.status == .forbidden, "\(method) \(path)")
                #expect(response.message().contains("'client'"), "\(method) \(path)")
            }
            #expect(try await client.get("/api/v1/sessions/count", headers: Self.bearer(try await Self.token(role: "admin"))).integer() == 0)
        }
    }

    @Test("POST /auth/token issues a working token; a client cannot issue admin tokens")
    func issueTokens() async throws {
        let admin = try await Self.token(role: "admin")
        let clientToken = try await Self.token(role: "client")
        try await withController(jwtSecret: Self.secret) { _, client in
            let issued = try await client.post("/api/v1/auth/token", json: "{\"token_type\": \"admin\", \"expires_in_days\": 2}", headers: Self.bearer(admin))
            #expect(issued.status == .created, "\(issued.text)")
            let body = issued.object()
            #expect(body["token_type"] as? String == "admin")
            let token = try #require(body["token"] as? String)
            let expires = try #require((body["expires_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
            #expect(abs(expires.timeIntervalSinceNow - 2 * 86_400) < 600)
            #expect(try await client.get("/api/v1/sessions/count", headers: Self.bearer(token)).integer() == 0)

            // Default: a client token for a year, which then cannot reach admin routes.
            let defaulted = try await client.post("/api/v1/auth/token", json: "", headers: Self.bearer(admin))
            #expect(defaulted.status == .created)
            #expect(defaulted.object()["token_type"] as? String == "client")
            let issuedClient = try #require(defaulted.object()["token"] as? String)
            #expect(try await client.get("/api/v1/sessions/", headers: Self.bearer(issuedClient)).status == .forbidden)

            let escalate = try await client.post("/api/v1/auth/token", json: "{\"token_type\": \"admin\"}", headers: Self.bearer(clientToken))
            #expect(escalate.status == .forbidden)
            #expect(escalate.message().contains("admin"))
            let own = try await client.post("/api/v1/auth/token", json: "{\"token_type\": \"client\"}", headers: Self.bearer(clientToken))
            #expect(own.status == .created)

            try await client.post("/api/v1/auth/token", json: "{\"token_type\": \"root\"}", headers: Self.bearer(admin)).expectBadRequest(naming: "token_type")
            for days in ["0", "-3", "4000", "\"soon\""] {
                try await client.post("/api/v1/auth/token", json: "{\"expires_in_days\": \(days)}", headers: Self.bearer(admin))
                    .expectBadRequest(naming: "expires_in_days", "\(days)")
            }
            let anonymous = try await client.post("/api/v1/auth/token", json: "{}")
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.message() == "Missing token")
        }
    }

    @Test("Without a secret the API is open and POST /auth/token is a 400")
    func noSecret() async throws {
        try await withController { _, client in
            #expect(try await client.get("/api/v1/sessions/").status == .ok)
            #expect(try await client.get("/api/v1/sessions/", headers: ["Authorization": "Bearer garbage"]).status == .ok)
            let response = try await client.post("/api/v1/auth/token", json: "{\"token_type\": \"admin\"}")
            #expect(response.status == .badRequest)
            #expect(response.message().contains("not enabled"))
        }
    }
}
