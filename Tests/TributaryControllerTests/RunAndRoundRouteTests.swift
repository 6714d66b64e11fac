import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Rounds and runs: get by id, filters, POST /list and /count")
struct RunAndRoundRouteTests {
    /// Two sessions (`alpha` with rounds 1–3, `beta` with round 1) and a run per start:
    /// alpha ran 3 rounds then 2 more, beta 1.
    static func seed(_ service: ControllerService) throws -> (alpha: String, beta: String, runs: [String]) {
        let store = service.store
        let model = try Fixtures.storeModel(service)
        let alpha = SessionRecord(sessionId: Store.newId(), name: "alpha", seedModelId: model, config: SessionConfig())
        let beta = SessionRecord(sessionId: Store.newId(), name: "beta", seedModelId: model, config: SessionConfig())
        try store.insert(alpha)
        try store.insert(beta)
        for (i, (session, number)) in [(alpha.sessionId, 1), (alpha.sessionId, 2), (alpha.sessionId, 3), (beta.sessionId, 1)].enumerated() {
            var round = RoundRecord(sessionId: session, roundNumber: number, modelIn: model, now: Fixtures.time(Double(i)))
            round.status = number == 3 ? .failed : .completed
            round.error = number == 3 ? "not enough updates" : nil
            try store.insert(round)
        }
        var runs: [String] = []
        for (i, (session, rounds, status)) in [(alpha.sessionId, 3, "Finished"), (alpha.sessionId, 2, "Started"), (beta.sessionId, 1, "Terminated")].enumerated() {
            var run = RunRecord(sessionId: session, modelId: model, rounds: rounds, roundTimeout: 60 * Double(i + 1), clientIds: i == 2 ? ["a", "b"] : nil,
                                modelNamePrefix: nil, now: Fixtures.time(Double(10 + i)))
            run.status = status
            try store.insert(run)
            runs.append(run.runId)
        }
        return (alpha.sessionId, beta.sessionId, runs)
    }

    @Test("GET /rounds/{id} returns the round with its data; an unknown id is 404")
    func roundById() async throws {
        try await withController { service, client in
            let seeded = try Self.seed(service)
            let id = "\(seeded.alpha)-r3"
            let response = try await client.get("/api/v1/rounds/\(id)")
            #expect(response.status == .ok)
            let round = response.object()
            #expect(round["round_id"] as? String == id)
            #expect(round["session_id"] as? String == seeded.alpha)
            #expect(intValue(round["round_number"]) == 3)
            #expect(round["status"] as? String == "Failed")
            #expect(round["error"] as? String == "not enough updates")
            #expect(round["model_out"] is NSNull)
            #expect(round["combiners"] as? [Any] != nil)
            #expect(round["round_data"] as? [String: Any] != nil)
            try await client.get("/api/v1/rounds/\(seeded.alpha)-r9").expectNotFound(naming: "\(seeded.alpha)-r9")
        }
    }

    @Test("Rounds: filters by session (camelCase too), status and round_number operators")
    func roundFilters() async throws {
        try await withController { service, client in
            let seeded = try Self.seed(service)
            let cases: [(String, [String])] = [
                ("sessionId=\(seeded.alpha)", ["3", "2", "1"]), ("session_id=\(seeded.beta)", ["1"]), ("status=Finished", ["1", "2", "1"]),
                ("round_number__gte=2", ["3", "2"]), ("roundNumber__lt=2", ["1", "1"]), ("status__ne=Finished", ["3"]), ("model_out=null", ["1", "3", "2", "1"]),
            ]
            for (query, expected) in cases {
                let response = try await client.get("/api/v1/rounds/?\(query)")
                #expect(response.status == .ok, "\(query): \(response.text)")
                #expect(response.listed("round_number") == expected, "\(query)")
                #expect(try await client.get("/api/v1/rounds/count?\(query)").integer() == expected.count, "\(query)")
            }
            let body = "{\"session_id\": \"\(seeded.alpha),\(seeded.beta)\", \"round_number\": [1, 3]}"
            let listed = try await client.post("/api/v1/rounds/list", json: body, headers: ["X-Sort-Key": "round_number", "X-Sort-Order": "asc"])
            #expect(listed.listed("round_number") == ["1", "1", "3"])
            #expect(try await client.post("/api/v1/rounds/count", json: body).integer() == 3)
            try await client.get("/api/v1/rounds/?roundz=1").expectBadRequest(naming: "roundz")
        }
    }

    @Test("Runs: list newest first, filters, paging, POST /list IN, count, get by id and 404")
    func runs() async throws {
        try await withController { service, client in
            let seeded = try Self.seed(service)
            let all = try await client.get("/api/v1/runs/")
            #expect(all.status == .ok)
            #expect(all.list().count == 3)
            #expect(all.listed("run_id") == seeded.runs.reversed())
            #expect(try await client.get("/api/v1/runs").listed("run_id") == seeded.runs.reversed())

            let cases: [(String, [String])] = [
                ("session_id=\(seeded.alpha)", [seeded.runs[1], seeded.runs[0]]), ("sessionId=\(seeded.beta)", [seeded.runs[2]]),
                ("status=Finished", [seeded.runs[0]]), ("rounds__gte=2", [seeded.runs[1], seeded.runs[0]]),
                ("round_timeout__gt=100", [seeded.runs[2], seeded.runs[1]]), ("completed_at=null", seeded.runs.reversed()),
            ]
            for (query, expected) in cases {
                let response = try await client.get("/api/v1/runs/?\(query)")
                #expect(response.listed("run_id") == expected, "\(query): \(response.text)")
                #expect(try await client.get("/api/v1/runs/count?\(query)").integer() == expected.count, "\(query)")
            }
            let page = try await client.get("/api/v1/runs/", headers: ["X-Sort-Key": "rounds", "X-Sort-Order": "asc", "X-Limit": "1", "X-Skip": "1"])
            #expect(page.list().count == 3)
            #expect(page.listed("run_id") == [seeded.runs[1]])
            let listed = try await client.post("/api/v1/runs/list", json: "{\"status\": \"Finished, Terminated\"}")
            #expect(listed.listed("run_id") == [seeded.runs[2], seeded.runs[0]])
            #expect(try await client.post("/api/v1/runs/count", json: "{\"status\": [\"Started\"]}").integer() == 1)

            let one = try await client.get("/api/v1/runs/\(seeded.runs[2])")
            #expect(one.status == .ok)
            let run = one.object()
            #expect(run["run_id"] as? String == seeded.runs[2])
            #expect(run["session_id"] as? String == seeded.beta)
            #expect(run["status"] as? String == "Terminated")
            #expect(intValue(run["rounds"]) == 1)
            #expect(intValue(run["round_timeout"]) == 180)
            #expect(run["client_ids"] as? String == "a,b")
            #expect(run["completed_at_model_id"] is NSNull)
            try await client.get("/api/v1/runs/no-such-run").expectNotFound(naming: "no-such-run")
        }
    }
}
