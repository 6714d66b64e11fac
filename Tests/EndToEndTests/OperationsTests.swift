import Foundation
import HummingbirdWSClient
import Logging
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// End-to-end operations: the WebSocket event stream, Prometheus metrics and the operator CLI
/// against a running network of real processes.
@Suite(.serialized) struct OperationsTests {
    /// Collects `/ws/events` messages until a `session_completed` arrives (or the socket ends).
    private actor EventLog {
        var texts: [String] = []
        func append(_ text: String) { texts.append(text) }
        func all() -> [String] { texts }
    }

    private static func parse(_ texts: [String]) -> [[String: Any]] {
        texts.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    private func listen(_ net: TestNetwork, into log: EventLog) -> Task<Void, any Error> {
        Task {
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(net.httpPort)/ws/events", logger: Logger(label: "ws-test")) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    await log.append(text)
                    if text.contains("\"session_completed\"") { return }
                }
            }
        }
    }

    @Test func eventsArriveInOrderAndMetricsMoveDuringASession() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController(heartbeat: 0.5)
        try await net.waitHealthy()
        let log = EventLog()
        let listener = listen(net, into: log)
        try await Task.sleep(for: .milliseconds(500))   // the socket is up before anything happens

        let combinerMetrics = URL(string: "http://127.0.0.1:\(try TestNetwork.freePort())/metrics")!
        try net.startCombiner("combiner-0", extra: ["--metrics-port", "\(combinerMetrics.port!)"])
        try await net.waitOnline(combiners: 1)
        let seed = net.directory.appendingPathComponent("seed.npz").path
        #expect(try net.runToEnd("tributary-client", ["seed-model", "--out", seed]) == 0)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed]) == 0)
        for i in 0..<2 { try net.startClient("client-\(i)", partition: "\(i)/2") }
        try await net.waitOnline(clients: 2)
        let before = try await scrape(net.controllerURL.appendingPathComponent("metrics"))

        let session = try await net.startSession(["rounds": 2, "round_timeout": 30, "training": ["learning_rate": 0.5]])
        #expect(try await net.waitSessionEnd(session, timeout: .seconds(60)) == "Finished")
        _ = await net.waitFor(timeout: .seconds(10)) { await log.all().contains { $0.contains("\"session_completed\"") } }
        listener.cancel()

        let events = Self.parse(await log.all())
        let types = events.compactMap { $0["type"] as? String }
        func first(_ type: String, round: Int? = nil) -> Int? {
            events.firstIndex { $0["type"] as? String == type && (round == nil || $0["round"] as? Int == round) }
        }
        #expect(types.contains("combiner_joined"))
        let order = [first("session_started"), first("round_started", round: 1), first("client_update", round: 1),
                     first("round_completed", round: 1), first("round_started", round: 2), first("round_completed", round: 2),
                     first("session_completed")]
        #expect(order.allSatisfy { $0 != nil }, "events: \(types)")
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted(), "events out of order: \(types)")
        let completed = events.first { $0["type"] as? String == "round_completed" && $0["round"] as? Int == 2 }
        #expect(((completed?["global_metrics"] as? [String: Any])?["accuracy"] as? Double ?? 0) > 0.5)
        #expect(completed?["participating_clients"] as? Int == 2)

        let after = try await scrape(net.controllerURL.appendingPathComponent("metrics"))
        #expect(after["tributary_rounds_total{status=\"finished\"}"] == 2)
        #expect((after["tributary_bytes_total{direction=\"in\"}"] ?? 0) > (before["tributary_bytes_total{direction=\"in\"}"] ?? 0))
        #expect((after["tributary_round_duration_seconds_count"] ?? 0) == 2)
        // A gauge set from combiner heartbeats: give it one heartbeat to settle after the session.
        let clientsGauge = await net.waitFor(timeout: .seconds(5)) {
            try await self.scrape(net.controllerURL.appendingPathComponent("metrics"))["tributary_clients_online"] == 2
        }
        #expect(clientsGauge, "tributary_clients_online: \(after["tributary_clients_online"] ?? -1)")
        // The combiner serves its own metrics: client traffic it answered, clients it holds.
        let combiner = try await scrape(combinerMetrics)
        #expect((combiner["tributary_bytes_total{direction=\"in\"}"] ?? 0) > 0)
        #expect((combiner["tributary_bytes_total{direction=\"out\"}"] ?? 0) > 0)
        #expect(combiner["tributary_clients_online"] == 2)
        #expect((combiner["tributary_updates_total{result=\"accepted\"}"] ?? 0) >= 4)   // 2 clients × 2 rounds (+ validations)
    }

    @Test func operatorCLIDrivesASessionAgainstARunningNetwork() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        try net.startController(heartbeat: 0.5)
        try await net.waitHealthy()
        try net.startCombiner("combiner-0")
        try await net.waitOnline(combiners: 1)
        let seed = net.directory.appendingPathComponent("seed.npz").path
        #expect(try net.runToEnd("tributary-client", ["seed-model", "--out", seed]) == 0)
        #expect(try net.runToEnd("tributary", ["upload-model", "--controller", net.controllerURL.absoluteString, seed]) == 0)
        try net.startClient("client-0", partition: "0/1")
        try await net.waitOnline(clients: 1)
        let controller = ["--controller", net.controllerURL.absoluteString]

        let status = try cli(net, ["status", "--json"] + controller)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        #expect((summary["clients"] as? [String: Any])?["online"] as? Int == 1)
        #expect((summary["combiners"] as? [String: Any])?["online"] as? Int == 1)

        let id = try cli(net, ["session", "create", "--rounds", "2", "--learning-rate", "0.5"] + controller).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 36)
        #expect(try cli(net, ["session", "start", id] + controller).contains("Session started"))
        let watched = try cli(net, ["watch", "--session", id, "--json"] + controller)
        let rounds = watched.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(rounds.map { $0["round_number"] as? Int } == [1, 2])
        #expect(rounds.allSatisfy { $0["status"] as? String == "Finished" })
        #expect(try cli(net, ["session", "show", id] + controller).contains("Finished"))
    }

    /// Runs the `tributary` CLI to completion, expecting success, and returns its standard output.
    private func cli(_ net: TestNetwork, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try net.output("tributary", arguments, sourceLocation: sourceLocation)
    }

    /// `GET /metrics`, parsed: "name{labels}" → value. Fails the test unless every sample line parses.
    private func scrape(_ url: URL) async throws -> [String: Double] {
        let (data, response) = try await URLSession.shared.data(from: url)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        var samples: [String: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            let value = parts.count == 2 ? Double(parts[1]) : nil
            #expect(value != nil, "not a Prometheus sample line: \(line)")
            if let value { samples[String(parts[0])] = value }
        }
        return samples
    }
}
