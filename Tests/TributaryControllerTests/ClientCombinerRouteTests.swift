import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore
import TributaryWire

@Suite("Clients and combiners: delete, config, PATCH host names, online counts")
struct ClientCombinerRouteTests {
    @Test("DELETE /clients/{id} is 200, then the client is gone (GET and DELETE 404)")
    func deleteClient() async throws {
        try await withController { service, client in
            try Fixtures.saveClient(service, "site-1")
            try Fixtures.saveClient(service, "site-2")
            let deleted = try await client.delete("/api/v1/clients/site-1")
            #expect(deleted.status == .ok)
            #expect(deleted.message() == "Client deleted")
            try await client.get("/api/v1/clients/site-1").expectNotFound(naming: "site-1")
            try await client.delete("/api/v1/clients/site-1").expectNotFound(naming: "site-1")
            #expect(try await client.get("/api/v1/clients/").listed("client_id") == ["site-2"])
            #expect(try await client.get("/api/v1/clients/site-2").status == .ok)
        }
    }

    @Test("GET /clients/config: network and discovery, checksum of the active package unless ?checksum=false")
    func clientConfig() async throws {
        try await withController { service, client in
            let config = service.configuration
            var body = try await client.get("/api/v1/clients/config").object()
            #expect(body["network_id"] as? String == config.networkId)
            #expect(body["discover_host"] as? String == config.advertiseHost ?? config.httpHost)
            #expect(intValue(body["discover_port"]) == config.httpPort)
            #expect(body.keys.contains("checksum") && body["checksum"] is NSNull, "no package yet: null checksum")

            let form = Multipart(parts: [.init(name: "file", filename: "pkg.tgz", bytes: Array("abc".utf8))])
            #expect(try await client.post("/api/v1/packages/", bytes: form.body, contentType: form.contentType).status == .ok)
            body = try await client.get("/api/v1/clients/config?checksum=true").object()
            #expect(body["checksum"] as? String == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            #expect(try await client.get("/api/v1/clients/config?checksum=false").object()["checksum"] == nil)
            try await client.get("/api/v1/clients/config?checksum=perhaps").expectBadRequest(naming: "checksum")
        }
    }

    @Test("A combiner body carries FEDn's derived ip, port, fqdn and parent")
    func combinerBody() async throws {
        try await withController { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7610)
            let id = try Fixtures.combinerId(service, "comb-a")
            let body = try await client.get("/api/v1/combiners/\(id)").object()
            #expect(body["combiner_id"] as? String == id)
            #expect(body["name"] as? String == "comb-a")
            #expect(body["address"] as? String == "tcp://127.0.0.1:7610")
            #expect(body["ip"] as? String == "127.0.0.1")
            #expect(intValue(body["port"]) == 7610)
            #expect(body["fqdn"] as? String == "127.0.0.1")
            #expect(body["parent"] as? String == "controller")
            #expect(body["internal_hostname"] is NSNull && body["public_hostname"] is NSNull)
        }
    }

    @Test("PATCH /combiners/{id} sets host names; they survive heartbeats; null clears one")
    func patchHostnames() async throws {
        try await withController { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7620)
            let id = try Fixtures.combinerId(service, "comb-a")
            let response = try await client.patch("/api/v1/combiners/\(id)",
                                                  json: "{\"internal_hostname\": \"comb-a.internal\", \"public_hostname\": \"comb-a.example.org\"}")
            #expect(response.status == .ok, "\(response.text)")
            var body = response.object()
            #expect(body["internal_hostname"] as? String == "comb-a.internal")
            #expect(body["public_hostname"] as? String == "comb-a.example.org")
            #expect(body["fqdn"] as? String == "comb-a.example.org")

            // A heartbeat that changes the client set saves the live row: the names must stay.
            try await Fixtures.heartbeat(service, "comb-a", clients: ["site-1"])
            body = try await client.get("/api/v1/combiners/\(id)").object()
            #expect(body["public_hostname"] as? String == "comb-a.example.org")
            #expect(intValue(body["clients_online"]) == 1)

            body = try await client.patch("/api/v1/combiners/\(id)", json: "{\"public_hostname\": null}").object()
            #expect(body["public_hostname"] is NSNull)
            #expect(body["internal_hostname"] as? String == "comb-a.internal", "fields left out are kept")
            #expect(body["fqdn"] as? String == "127.0.0.1")
            #expect(try await client.get("/api/v1/combiners/?internal_hostname=comb-a.internal").list().count == 1)
        }
    }

    @Test("PATCH /combiners/{id}: unknown or mistyped fields and an empty body are 400; unknown id is 404")
    func patchRefused() async throws {
        try await withController { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7630)
            let id = try Fixtures.combinerId(service, "comb-a")
            try await client.patch("/api/v1/combiners/\(id)", json: "{\"address\": \"tcp://evil:1\"}").expectBadRequest(naming: "address")
            try await client.patch("/api/v1/combiners/\(id)", json: "{\"public_hostname\": 5}").expectBadRequest(naming: "public_hostname")
            try await client.patch("/api/v1/combiners/\(id)", json: "{}").expectBadRequest(naming: "hostname")
            try await client.patch("/api/v1/combiners/\(id)", json: "not json").expectBadRequest(naming: "JSON")
            try await client.patch("/api/v1/combiners/ghost-combiner", json: "{\"public_hostname\": \"x\"}").expectNotFound(naming: "ghost-combiner")
            let body = try await client.get("/api/v1/combiners/\(id)").object()
            #expect(body["address"] as? String == "tcp://127.0.0.1:7630")
            #expect(body["public_hostname"] is NSNull)
        }
    }

    @Test("DELETE /combiners/{id} is 200: the row goes, its clients go offline; then 404")
    func deleteCombiner() async throws {
        try await withController { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7640)
            try await Fixtures.registerCombiner(service, "comb-b", port: 7642)
            try await Fixtures.heartbeat(service, "comb-a", clients: ["site-1"])
            let id = try Fixtures.combinerId(service, "comb-a")
            #expect(try await client.get("/api/v1/clients/site-1").object()["status"] as? String == "online")

            let deleted = try await client.delete("/api/v1/combiners/\(id)")
            #expect(deleted.status == .ok)
            #expect(deleted.message() == "Combiner deleted")
            try await client.get("/api/v1/combiners/\(id)").expectNotFound(naming: id)
            try await client.delete("/api/v1/combiners/\(id)").expectNotFound(naming: id)
            #expect(try await client.get("/api/v1/combiners/").listed("name") == ["comb-b"])
            #expect(try await client.get("/api/v1/clients/site-1").object()["status"] as? String == "offline")
            // A heartbeat from the forgotten combiner is refused until it registers again.
            #expect(try await service.registry.heartbeat(CombinerHeartbeat(name: "comb-a", clients: [])) == false)
        }
    }

    @Test("POST /combiners/clients/count: online clients per combiner, by name or id")
    func clientsCount() async throws {
        try await withController { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7650)
            try await Fixtures.registerCombiner(service, "comb-b", port: 7652)
            try await Fixtures.heartbeat(service, "comb-a", clients: ["site-1", "site-2"])
            try await Fixtures.heartbeat(service, "comb-b", clients: ["site-3"])
            try Fixtures.saveClient(service, "site-4", combiner: "comb-b")  // assigned, not online
            let idB = try Fixtures.combinerId(service, "comb-b")

            let response = try await client.post("/api/v1/combiners/clients/count", json: "{\"combiners\": \"comb-a, \(idB),comb-z\"}")
            #expect(response.status == .ok, "\(response.text)")
            let result = try #require(response.object()["result"] as? [[String: Any]])
            #expect(result.map { $0["combiner"] as? String } == ["comb-a", "comb-b", "comb-z"])
            #expect(result.map { intValue($0["count"]) } == [2, 1, 0])
            #expect(result.map { intValue($0["client_count"]) } == [2, 1, 0])
            #expect(result[1]["combiner_id"] as? String == idB)

            try await client.post("/api/v1/combiners/clients/count", json: "{}").expectBadRequest(naming: "combiners")
            try await client.post("/api/v1/combiners/clients/count", json: "{\"combiners\": [\"comb-a\"]}").expectBadRequest(naming: "combiners")
        }
    }
}
