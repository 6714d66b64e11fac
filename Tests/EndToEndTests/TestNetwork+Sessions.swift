import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TributaryModel

/// Session helpers over the REST API, shared by the end-to-end suites.
extension TestNetwork {
    /// The tiny model the scripted trainers shift: w = [0…5] (2×3), b = [-1, 1].
    static let tinySeed = try! Model(float32: [("w", [2, 3], [0, 1, 2, 3, 4, 5]), ("b", [2], [-1, 1])])

    func waitHealthy() async throws {
        let healthy = await waitFor(timeout: .seconds(30)) { try await self.request("GET", "/health").status == 200 }
        try #require(healthy, "controller did not come up:\n\(log("controller"))")
    }

    func waitOnline(combiners: Int? = nil, clients: Int? = nil, timeout: Duration = .seconds(60)) async throws {
        let ok = await waitFor(timeout: timeout) {
            if let combiners, try await self.count("/api/v1/combiners/count?status=online") != combiners { return false }
            if let clients, try await self.count("/api/v1/clients/count?status=online") != clients { return false }
            return true
        }
        try #require(ok, "network did not reach \(combiners ?? -1) combiners / \(clients ?? -1) clients online:\n\(log("controller"))")
    }

    /// A controller, `combiners` combiners named combiner-0… all online, and the tiny seed stored.
    func startCore(combiners: Int, heartbeat: Double = 0.5) async throws {
        try startController(heartbeat: heartbeat)
        try await waitHealthy()
        for i in 0..<combiners { try startCombiner("combiner-\(i)") }
        try await waitOnline(combiners: combiners)
        try uploadTinySeed()
    }

    func uploadTinySeed() throws {
        let file = directory.appendingPathComponent("seed.npz")
        try NPZ.write(Self.tinySeed, to: file)
        #expect(try runToEnd("tributary", ["upload-model", "--controller", controllerURL.absoluteString, file.path]) == 0)
    }

    func startSession(_ config: [String: Any]) async throws -> String {
        let created = try await request("POST", "/api/v1/sessions/", json: ["session_config": config])
        let id = try #require((created.body as? [String: Any])?["session_id"] as? String, "create failed: \(String(describing: created.body))")
        let started = try await request("POST", "/api/v1/sessions/start", json: ["session_id": id])
        try #require(started.status == 200, "start failed: \(String(describing: started.body))")
        return id
    }

    func sessionStatus(_ id: String) async throws -> String? {
        (try await get("/api/v1/sessions/\(id)") as? [String: Any])?["status"] as? String
    }

    /// Waits until the session ended (any status but Created/Started); returns that status.
    func waitSessionEnd(_ id: String, timeout: Duration) async throws -> String {
        var status: String?
        _ = await waitFor(timeout: timeout) {
            status = try await self.sessionStatus(id)
            return status != nil && status != "Started" && status != "Created"
        }
        return status ?? "unknown"
    }

    func rounds(_ session: String) async throws -> [[String: Any]] {
        let list = try await get("/api/v1/rounds/?session_id=\(session)", headers: ["X-Sort-Key": "round_number", "X-Sort-Order": "asc"])
        return (list as? [String: Any])?["result"] as? [[String: Any]] ?? []
    }

    func roundStatus(_ session: String, _ number: Int) async throws -> String? {
        try await rounds(session).first { $0["round_number"] as? Int == number }?["status"] as? String
    }

    /// Clients whose updates a round folded in, over all its combiners.
    static func contributors(_ round: [String: Any]) -> Set<String> {
        Set((round["combiners"] as? [[String: Any]] ?? []).flatMap { $0["clients"] as? [String] ?? [] })
    }

    /// Saves what a GET of `path` returns (e.g. a model download) to `file`.
    func downloadFile(_ path: String, to file: URL) async throws {
        let (data, response) = try await URLSession.shared.data(from: URL(string: path, relativeTo: controllerURL)!)
        try #require((response as? HTTPURLResponse)?.statusCode == 200, "GET \(path) failed")
        try data.write(to: file)
    }

    /// A stored model as downloaded by default (.npz for numpyhelper sessions, else native).
    func downloadModel(_ id: String) async throws -> Model {
        let (data, _) = try await URLSession.shared.data(from: controllerURL.appendingPathComponent("api/v1/models/\(id)/download"))
        let bytes = [UInt8](data)
        return bytes.starts(with: Array("PK".utf8)) ? try NPZ.decode(bytes) : try NativeFormat.decode(bytes)
    }
}
