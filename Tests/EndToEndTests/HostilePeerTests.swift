import Foundation
import Testing
import TributaryModel
import TributaryWire
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: peers that misbehave — late updates, garbage on every nng port — are refused
/// with an error reply and a log line, and every process keeps serving.
@Suite(.serialized) struct HostilePeerTests {
    /// A hand-driven client speaking the wire protocol directly, to send what a real client never would.
    private struct RawClient {
        let id: String
        let peer: PeerConnection

        func heartbeatUntilTask(timeout: Duration) async throws -> ClientTask? {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let reply = try await peer.call(.clientHeartbeat, ClientHeartbeat(clientId: id), expecting: .clientHeartbeatReply,
                                                as: ClientHeartbeatReply.self, timeout: .seconds(5))
                if let task = reply.task { return task }
                // Like a real client: a combiner that dropped us (we were silent for 5 heartbeat
                // intervals, e.g. while the loaded machine stalled a REST call) is joined again.
                if reply.mustRegister { try await register() }
                try await Task.sleep(for: .milliseconds(200))
            }
            return nil
        }

        func register() async throws {
            _ = try await peer.call(.clientRegister, ClientRegister(clientId: id, name: id), expecting: .clientRegistered,
                                    as: ClientRegistered.self, timeout: .seconds(5))
        }

        func upload(_ model: Model, for task: ClientTask, weight: Double) async throws -> UploadReceipt {
            let header = UploadChunk(jobId: task.jobId, sessionId: task.sessionId, round: task.round, sender: id, index: 0, chunkCount: 0,
                                     offset: 0, totalBytes: model.spec.totalBytes, checksum: model.checksum, weight: weight, metrics: [:])
            return try await ModelTransfer.upload(model, kind: .submitUpdate, header: header, chunkSize: task.chunkSize, to: peer,
                                                  timeout: .seconds(5), deadline: .now + .seconds(5))
        }
    }

    @Test func lateUpdateFromAPreviousRoundIsRejectedAndNeverFoldedIn() async throws {
        guard ScriptedTrainer.ready() else { return }
        let net = try TestNetwork()
        defer { net.stopAll() }
        let script = try ScriptedTrainer.install(in: net.directory)
        // A 1 s heartbeat (offline after 5 s): the raw client below heartbeats by hand between
        // REST calls, which can stall for seconds when the whole suite loads the machine.
        try await net.startCore(combiners: 1, heartbeat: 1)
        try net.startClient("a", partition: "0/1", extra: ScriptedTrainer.command(script, delta: 1, examples: 100))
        try await net.waitOnline(clients: 1)

        // The raw client joins like any client: REST, then register at its combiner.
        let joined = try await net.request("POST", "/api/v1/clients/add", json: ["client_id": "raw"])
        let address = try #require((joined.body as? [String: Any])?["combiner_address"] as? String)
        let raw = RawClient(id: "raw", peer: try PeerConnection(url: address))
        try await raw.register()
        // Heartbeat like a live client until the controller counts it online.
        let online = await net.waitFor(timeout: .seconds(60)) {
            _ = try await raw.heartbeatUntilTask(timeout: .milliseconds(1))
            return try await net.count("/api/v1/clients/count?status=online") == 2
        }
        try #require(online)

        // Heartbeat in the background for the rest of the test, as a real client's own loop
        // does: a client silent for 2 intervals is not selected for the next round, and under
        // load a download, an upload or a REST call can take that long.
        let keepAlive = Task {
            while !Task.isCancelled {
                _ = try? await raw.heartbeatUntilTask(timeout: .milliseconds(1))
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { keepAlive.cancel() }
        let session = try await net.startSession(["rounds": 2, "round_timeout": 30, "validate": false])
        let first = try #require(try await raw.heartbeatUntilTask(timeout: .seconds(40)))
        #expect(first.round == 1)
        let global = try await ModelTransfer.download(modelId: first.modelId, chunkSize: first.chunkSize, from: raw.peer, timeout: .seconds(5))
        var update = global
        try update.setFloat32s("w", try global.float32s("w").map { $0 + 100 })
        try update.setFloat32s("b", try global.float32s("b").map { $0 + 100 })
        #expect(try await raw.upload(update, for: first, weight: 100).status == .accepted)

        // Round 2's task arrives; send round 1's update again instead (late), then give up the task.
        let second = try #require(try await raw.heartbeatUntilTask(timeout: .seconds(40)))
        #expect(second.round == 2)
        await #expect(throws: WireError.self) { try await raw.upload(update, for: first, weight: 100) }
        do {
            _ = try await raw.upload(update, for: first, weight: 100)
        } catch let error as WireError {
            #expect(error.code == .unknownJob)
        }
        _ = try await raw.peer.call(.taskFailed, TaskFailure(jobId: second.jobId, clientId: "raw", reason: "test gives up"), expecting: .ack, timeout: .seconds(5))

        #expect(try await net.waitSessionEnd(session, timeout: .seconds(60)) == "Finished")
        let rounds = try await net.rounds(session)
        try #require(rounds.count == 2)
        #expect(TestNetwork.contributors(rounds[0]) == ["a", "raw"])
        #expect(TestNetwork.contributors(rounds[1]) == ["a"])
        // Round 1: (100·1 + 100·100) / 200 = 50.5. Round 2: only a's +1 — the late update was not folded in.
        let r1 = try await net.downloadModel(try #require(rounds[0]["model_out"] as? String))
        let r2 = try await net.downloadModel(try #require(rounds[1]["model_out"] as? String))
        #expect(try r1.float32s("b") == [-1 + 50.5, 1 + 50.5])
        #expect(try r2.float32s("b") == [-1 + 51.5, 1 + 51.5])
        raw.peer.close()
    }

    @Test func garbageOnEveryNNGPortLeavesEveryProcessServing() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController(heartbeat: 0.5)
        try await net.waitHealthy()
        try net.startCombiner("combiner-0")
        try await net.waitOnline(combiners: 1)
        let combiner = try #require(((try await net.get("/api/v1/combiners/") as? [String: Any])?["result"] as? [[String: Any]])?.first)
        let replyPorts = [net.controllerReply, try #require(combiner["address"] as? String)]
        let publishPorts = [net.controllerPublish, try #require(combiner["publish_address"] as? String)]

        // 1. Raw TCP garbage (not even the SP handshake) to all four ports.
        var rng = SystemRandomNumberGenerator()
        for url in replyPorts + publishPorts {
            for size in [1, 8, 64, 4096, 1 << 20] {
                TCPGarbage.send(to: url, bytes: (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
        }
        // 2. Valid nng REQ messages carrying garbage, truncated and hostile frames to both REP ports:
        //    every one is answered with an error frame.
        for url in replyPorts {
            let peer = try RequestClient(url: url, options: SocketOptions(receiveMaxSize: 1 << 20))
            defer { peer.close() }
            for body in HostileFrames.all() {
                let reply = try await peer.request(try Message(body), timeout: .seconds(5))
                let frame = try Frame.decode(reply)
                #expect(frame.kind == .error, "\(url) answered \(frame.kind) to a hostile frame")
            }
        }
        // 3. Everything still answers: REST, and a combiner heartbeat that keeps it online.
        #expect(try await net.request("GET", "/health").status == 200)
        try await Task.sleep(for: .seconds(2))
        #expect(try await net.count("/api/v1/combiners/count?status=online") == 1)
        let peer = try PeerConnection(url: replyPorts[1])
        defer { peer.close() }
        let registered = try await peer.call(.clientRegister, ClientRegister(clientId: "after", name: "after"), expecting: .clientRegistered,
                                             as: ClientRegistered.self, timeout: .seconds(5))
        #expect(registered.combiner == "combiner-0")
        for role in ["controller", "combiner-0"] { #expect(net.processes[role]?.isRunning == true, "\(role) died") }
    }
}

/// Hostile frames: each a complete nng message body that no endpoint should accept.
enum HostileFrames {
    static func all() -> [[UInt8]] {
        var frames: [[UInt8]] = [[], [0x54], Array("GET / HTTP/1.1\r\n\r\n".utf8), [UInt8](repeating: 0xff, count: 100)]
        let valid = (try? Frame.encode(.clientHeartbeat, ClientHeartbeat(clientId: "x")).bytes) ?? []
        frames.append(Array(valid.prefix(20)))                      // truncated header
        frames.append(Array(valid.dropLast(3)))                      // truncated metadata
        frames.append(valid + [0, 0, 0])                              // trailing bytes
        var version = valid; version[4] = 9                            // wrong version
        frames.append(version)
        var kind = valid; kind[6] = 0xee; kind[7] = 0xee               // unknown kind
        frames.append(kind)
        var huge = valid; for i in 16..<24 { huge[i] = 0xff }          // absurd payload length
        frames.append(huge)
        var meta = valid; for i in 32..<meta.count { meta[i] = UInt8(ascii: "{") }   // broken JSON
        frames.append(meta)
        let wrongShape = (try? Frame.encode(.clientHeartbeat, ["clientId": 42]).bytes) ?? []   // JSON of the wrong shape
        frames.append(wrongShape)
        let reply = (try? Frame.encode(.uploadReceipt, Empty()).bytes) ?? []                   // a reply kind as a request
        frames.append(reply)
        return frames
    }
}

/// Writes raw bytes to an nng tcp:// address with a plain socket, then closes it.
enum TCPGarbage {
    static func send(to url: String, bytes: [UInt8]) {
        guard let rest = url.split(separator: "://").last, let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else { return }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return }
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
