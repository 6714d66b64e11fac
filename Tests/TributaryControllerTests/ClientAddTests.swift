import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("POST /api/v1/clients/add and client status")
struct ClientAddTests {
    /// Registers `comb-a` (REP :7500, PUB :7501) and `comb-b` (REP :7502, PUB :7503).
    static func twoCombiners(_ service: ControllerService) async throws {
        try await Fixtures.registerCombiner(service, "comb-a", port: 7500)
        try await Fixtures.registerCombiner(service, "comb-b", port: 7502)
    }

    static func add(_ client: any TestClientProtocol, _ id: String, extra: String = "", headers: [String: String] = [:]) async throws -> TestResponse {
        try await client.post("/api/v1/clients/add", json: "{\"client_id\": \"\(id)\", \"name\": \"site \(id)\"\(extra)}", headers: headers)
    }

    @Test("Clients are placed on the least-loaded combiner, alternating")
    func leastLoaded() async throws {
        try await withController { service, client in
            try await Self.twoCombiners(service)
            var placed: [String] = []
            for id in ["x1", "x2", "x3", "x4"] {
                let response = try await Self.add(client, id)
                #expect(response.status == .ok, "\(response.text)")
                let body = response.object()
                #expect(body["status"] as? String == "assigned")
                #expect(body["client_id"] as? String == id)
                let combiner = try #require(body["combiner"] as? String)
                placed.append(combiner)
                let port = combiner == "comb-a" ? 7500 : 7502
                #expect(body["combiner_address"] as? String == "tcp://127.0.0.1:\(port)")
                #expect(body["combiner_publish_address"] as? String == "tcp://127.0.0.1:\(port + 1)")
                #expect(body["host"] as? String == "127.0.0.1")
                #expect(intValue(body["port"]) == port)
            }
            #expect(placed == ["comb-a", "comb-b", "comb-a", "comb-b"])
            #expect(try await client.get("/api/v1/clients/count?combiner=comb-a").integer() == 2)
            #expect(try await client.get("/api/v1/clients/count?combiner=comb-b").integer() == 2)
        }
    }

    @Test("A preferred combiner that exists is honoured (both key spellings)", arguments: ["combiner_preferred", "preferred_combiner"])
    func preferred(key: String) async throws {
        try await withController { service, client in
            try await Self.twoCombiners(service)
            for id in ["p1", "p2", "p3"] {
                let response = try await Self.add(client, id, extra: ", \"\(key)\": \"comb-b\"")
                #expect(response.status == .ok)
                #expect(response.object()["combiner"] as? String == "comb-b", "\(id)")
            }
            let row = try await client.get("/api/v1/clients/p1").object()
            #expect(row["combiner"] as? String == "comb-b")
            #expect(row["combiner_preferred"] as? String == "comb-b")
        }
    }

    @Test("An unknown or offline preferred combiner falls back to the least loaded")
    func preferredFallback() async throws {
        try await withController { service, client in
            try await Self.twoCombiners(service)
            #expect(try await Self.add(client, "y1").object()["combiner"] as? String == "comb-a")
            let unknown = try await Self.add(client, "y2", extra: ", \"combiner_preferred\": \"comb-zzz\"")
            #expect(unknown.status == .ok)
            #expect(unknown.object()["combiner"] as? String == "comb-b")

            // Both go offline (a sweep far in the future); only comb-b comes back.
            try await service.registry.sweep(now: .now + .seconds(3600))
            try await Fixtures.registerCombiner(service, "comb-b", port: 7502)
            let offline = try await Self.add(client, "y3", extra: ", \"combiner_preferred\": \"comb-a\"")
            #expect(offline.status == .ok)
            #expect(offline.object()["combiner"] as? String == "comb-b")
        }
    }

    @Test("No combiner online is a 503 with a JSON message")
    func noCombiner() async throws {
        try await withController { service, client in
            var response = try await Self.add(client, "z1")
            #expect(response.status == .serviceUnavailable)
            #expect(!response.message().isEmpty)

            try await Self.twoCombiners(service)
            try await service.registry.sweep(now: .now + .seconds(3600))
            response = try await Self.add(client, "z2")
            #expect(response.status == .serviceUnavailable)
            #expect(!response.message().isEmpty)
            #expect(try await client.get("/api/v1/clients/count").integer() == 0)
        }
    }

    @Test("Missing or empty client_id, or a body that is not JSON, is a 400", arguments: [
        "{\"name\": \"anon\"}", "{\"client_id\": \"\"}", "{\"client_id\": 42}", "not json", "",
    ])
    func badRequest(body: String) async throws {
        try await withController { service, client in
            try await Self.twoCombiners(service)
            let response = try await client.post("/api/v1/clients/add", json: body)
            #expect(response.status == .badRequest, "\(body)")
            #expect(!response.message().isEmpty)
            if body.contains("anon") || body.contains("\"\"") { #expect(response.message().contains("client_id")) }
        }
    }

    @Test("A client row goes available → online → offline with its combiner's heartbeats")
    func statusLifecycle() async throws {
        try await withController { service, client in
            try await Self.twoCombiners(service)
            #expect(try await Self.add(client, "site-1").status == .ok)
            func row() async throws -> [String: Any] {
                let response = try await client.get("/api/v1/clients/site-1")
                #expect(response.status == .ok)
                return response.object()
            }
            var current = try await row()
            #expect(current["client_id"] as? String == "site-1")
            #expect(current["name"] as? String == "site site-1")
            #expect(current["combiner"] as? String == "comb-a")
            #expect(current["status"] as? String == "available")

            try await Fixtures.heartbeat(service, "comb-a", clients: ["site-1"])
            current = try await row()
            #expect(current["status"] as? String == "online")
            #expect(try await client.get("/api/v1/clients/?status=online").listed("client_id") == ["site-1"])
            let combiner = try await client.get("/api/v1/combiners/?name=comb-a").list().rows.first
            #expect(intValue(combiner?["clients_online"]) == 1)

            try await Fixtures.heartbeat(service, "comb-a", clients: [])
            current = try await row()
            #expect(current["status"] as? String == "offline")
            #expect(try await client.get("/api/v1/clients/count?status=online").integer() == 0)
        }
    }

    @Test("An offline client does not count as load")
    func offlineNotLoad() async throws {
        try await withController { service, client in
            try await Self.twoCombiners(service)
            #expect(try await Self.add(client, "o1").object()["combiner"] as? String == "comb-a")
            try await Fixtures.heartbeat(service, "comb-a", clients: ["o1"])
            try await Fixtures.heartbeat(service, "comb-a", clients: [])
            // comb-a has only an offline client: a tie, broken by name.
            #expect(try await Self.add(client, "o2").object()["combiner"] as? String == "comb-a")
        }
    }

    @Test("A client that asks again keeps a balanced placement")
    func reAddIsStable() async throws {
        try await withController { service, client in
            try await Self.twoCombiners(service)
            #expect(try await Self.add(client, "r1").object()["combiner"] as? String == "comb-a")
            #expect(try await Self.add(client, "r2").object()["combiner"] as? String == "comb-b")
            // r2 restarts and asks again: the network is balanced, so it should stay on comb-b.
            // Known bug: NetworkRegistry.assign counts r2's own row as load on comb-b, so r2
            // moves to comb-a (2 vs 0).
            let again = try await Self.add(client, "r2").object()["combiner"] as? String
            #expect(again == "comb-b")
        }
    }
}
