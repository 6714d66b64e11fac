import Foundation
import Testing
import TributaryWire

/// Per-peer rate limits on nng, with the real executables: one client floods its combiner
/// (bounded: 300 requests on loopback) while two others train.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PeerFloodTests {
    @Test("A client flooding its combiner is refused with rate_limited past its limit while the others train; the flood is one RATE_LIMITED status")
    func flooderIsRefusedOthersTrain() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController()
        try await net.waitHealthy()
        try net.startCombiner("combiner-0", extra: ["--client-rate-limit", "20"])
        try await net.waitOnline(combiners: 1)
        let seed = net.directory.appendingPathComponent("seed.npz").path
        _ = try net.output("tributary-client", ["seed-model", "--out", seed])
        _ = try net.output("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed])
        for i in 0..<2 { try net.startClient("client-\(i)", partition: "\(i)/2") }
        try await net.waitOnline(combiners: 1, clients: 2)

        let assignment = try #require(try await net.request("POST", "/api/v1/clients/add", json: ["client_id": "flooder"]).body as? [String: Any])
        let combiner = try PeerConnection(url: try #require(assignment["combiner_address"] as? String))
        defer { combiner.close() }
        let session = try await net.startSession(["rounds": 2, "round_timeout": 60, "clients_required": 2])
        var answered = 0, limited = 0
        for _ in 0..<300 {
            // Straight sends: `call` would back off on rate_limited, as an honest peer does.
            do {
                _ = try await combiner.send(try combiner.encode(.clientHeartbeat, ClientHeartbeat(clientId: "flooder")), expecting: .clientHeartbeatReply, timeout: .seconds(5))
                answered += 1
            } catch let error as WireError where error.code == .rateLimited {
                limited += 1
            }
        }
        // A burst of 40, then 20 a second: most of the flood is refused.
        #expect(limited >= 200 && answered >= 40, "answered \(answered), limited \(limited)")
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(90)) == "Finished", "\(net.log("controller").suffix(3000))")
        let rounds = try await net.rounds(session)
        #expect(rounds.count == 2 && rounds.allSatisfy { TestNetwork.contributors($0) == ["client-0", "client-1"] }, "\(rounds)")

        let recorded = await net.waitFor(timeout: .seconds(10)) { try await net.count("/api/v1/statuses/count?type=RATE_LIMITED") >= 1 }
        let statuses = (try await net.get("/api/v1/statuses/?type=RATE_LIMITED") as? [String: Any])?["result"] as? [[String: Any]] ?? []
        #expect(recorded && statuses.count == 1 && (statuses.first?["sender"] as? [String: Any])?["name"] as? String == "flooder", "\(statuses)")
    }
}
