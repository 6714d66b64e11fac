import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Statuses: POST /api/v1/statuses, /histogram, date filters")
struct StatusRouteTests {
    @Test("POST /statuses from a registered client is 201 with the sender resolved, and can be read back")
    func postFromClient() async throws {
        try await withController { service, client in
            try Fixtures.saveClient(service, "site-1", name: "Site One")
            let body = """
            {"sender": {"client_id": "site-1"}, "type": "TRAINING", "status": "epoch 2 done", "session_id": "s1", "round_number": 4,
             "correlation_id": "job-9", "data": {"loss": 0.5}, "extra": "x"}
            """
            let response = try await client.post("/api/v1/statuses", json: body)
            #expect(response.status == .created, "\(response.text)")
            let created = response.object()
            let id = try #require(created["status_id"] as? String)
            #expect(created["type"] as? String == "TRAINING")
            #expect(created["status"] as? String == "epoch 2 done")
            #expect(created["log_level"] as? String == "INFO")
            #expect(created["session_id"] as? String == "s1")
            #expect(intValue(created["round_number"]) == 4)
            #expect(created["correlation_id"] as? String == "job-9")
            #expect(created["data"] as? String == "{\"loss\":0.5}")
            #expect(created["extra"] as? String == "x")
            #expect(created["timestamp"] != nil)
            let sender = try #require(created["sender"] as? [String: Any])
            #expect(sender["client_id"] as? String == "site-1")
            #expect(sender["name"] as? String == "Site One")
            #expect(sender["role"] as? String == "client")

            let fetched = try await client.get("/api/v1/statuses/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched.object()["correlation_id"] as? String == "job-9")
            #expect(try await client.get("/api/v1/statuses/?sender.client_id=site-1").listed("status_id") == [id])
            #expect(try await client.get("/api/v1/statuses/count?sender.name=Site%20One").integer() == 1)
            try await client.get("/api/v1/statuses/ghost-status").expectNotFound(naming: "ghost-status")
        }
    }

    @Test("POST /statuses from a combiner, by name or id, names it as the sender")
    func postFromCombiner() async throws {
        try await withController { service, client in
            try await Fixtures.registerCombiner(service, "comb-a", port: 7600)
            let combinerId = try Fixtures.combinerId(service, "comb-a")
            for key in ["comb-a", combinerId] {
                let response = try await client.post("/api/v1/statuses/", json: "{\"sender\": {\"combiner_id\": \"\(key)\"}, \"type\": \"T\", \"status\": \"s\", \"log_level\": \"AUDIT\"}")
                #expect(response.status == .created, "\(key): \(response.text)")
                let sender = try #require(response.object()["sender"] as? [String: Any])
                #expect(sender["combiner_id"] as? String == combinerId)
                #expect(sender["name"] as? String == "comb-a")
                #expect(sender["role"] as? String == "combiner")
            }
            #expect(try await client.get("/api/v1/statuses/count?log_level=AUDIT").integer() == 2)
        }
    }

    @Test("A bad POST /statuses is a 400 naming the field and stores nothing", arguments: [
        ("{\"sender\": {\"client_id\": \"ghost\"}, \"type\": \"T\", \"status\": \"s\"}", "sender.client_id"),
        ("{\"sender\": {\"combiner_id\": \"ghost\"}, \"type\": \"T\", \"status\": \"s\"}", "sender.combiner_id"),
        ("{\"type\": \"T\", \"status\": \"s\"}", "sender"),
        ("{\"sender\": \"site-1\", \"type\": \"T\", \"status\": \"s\"}", "sender"),
        ("{\"sender\": {\"name\": \"someone\"}, \"type\": \"T\", \"status\": \"s\"}", "sender"),
        ("{\"sender\": {\"client_id\": \"site-1\"}, \"status\": \"s\"}", "type"),
        ("{\"sender\": {\"client_id\": \"site-1\"}, \"type\": \"T\"}", "status"),
        ("{\"sender\": {\"client_id\": \"site-1\"}, \"type\": \"T\", \"status\": \"s\", \"log_level\": \"LOUD\"}", "log_level"),
        ("{\"sender\": {\"client_id\": \"site-1\"}, \"type\": \"T\", \"status\": \"s\", \"round_number\": \"four\"}", "round_number"),
        ("{\"sender\": {\"client_id\": \"site-1\"}, \"type\": \"T\", \"status\": \"s\", \"round_number\": 1.5}", "round_number"),
        ("{\"sender\": {\"client_id\": \"site-1\"}, \"type\": \"T\", \"status\": \"s\", \"round_number\": 1e300}", "round_number"),
        ("{\"sender\": {\"client_id\": \"site-1\"}, \"type\": \"T\", \"status\": \"s\", \"status_id\": \"mine\"}", "status_id"),
        ("[1]", "JSON object"),
    ])
    func postRefused(body: String, field: String) async throws {
        try await withController { service, client in
            try Fixtures.saveClient(service, "site-1")
            try await client.post("/api/v1/statuses", json: body).expectBadRequest(naming: field, "\(body)")
            #expect(try await client.get("/api/v1/statuses/count").integer() == 0)
        }
    }

    /// Statuses at 0, 10, 20, 30, 35 and 59 s after `Fixtures.time(0)`, types alternating A/B,
    /// plus one at 60 s (just past a one-minute window).
    static func seedTimeline(_ service: ControllerService) throws {
        for (i, offset) in [0.0, 10, 20, 30, 35, 59, 60].enumerated() {
            try service.store.insert(StatusRecord(status: "event \(i)", type: i.isMultiple(of: 2) ? "A" : "B", sessionId: "s", roundNumber: i,
                                                  senderName: "site-\(i % 3)", senderRole: "client", now: Fixtures.time(offset)))
        }
    }

    static func counts(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) -> (timestamps: [String], counts: [Int]) {
        #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        let buckets = response.json(sourceLocation: sourceLocation) as? [[String: Any]] ?? []
        return (buckets.map { $0["timestamp"] as? String ?? "" }, buckets.map { intValue($0["count"]) ?? -1 })
    }

    @Test("Histogram: equal buckets over [start_date, end_date), counts per bucket, boundaries included at the start")
    func histogramWindow() async throws {
        try await withController { service, client in
            try Self.seedTimeline(service)
            let window = "start_date=2026-01-01T00:00:00Z&end_date=2026-01-01T00:01:00Z"
            let six = Self.counts(try await client.get("/api/v1/statuses/histogram?buckets=6&\(window)"))
            #expect(six.counts == [1, 1, 1, 2, 0, 1])
            #expect(six.timestamps == (0..<6).map { "2026-01-01T00:00:\($0)0.000Z" })
            #expect(Self.counts(try await client.get("/api/v1/statuses/histogram?buckets=2&\(window)")).counts == [3, 3])
            #expect(Self.counts(try await client.get("/api/v1/statuses/histogram?buckets=1&\(window)")).counts == [6])
            // Filters apply; counts sum to the matching rows in the window.
            let typeA = Self.counts(try await client.get("/api/v1/statuses/histogram?buckets=3&type=A&\(window)"))
            #expect(typeA.counts == [1, 2, 0])
            let bySender = Self.counts(try await client.get("/api/v1/statuses/histogram?buckets=4&sender.name=site-0&\(window)"))
            #expect(bySender.counts.reduce(0, +) == 2)
            // A date without a time is midnight UTC.
            #expect(Self.counts(try await client.get("/api/v1/statuses/histogram?buckets=5&start_date=2026-01-01&end_date=2026-01-02")).counts.reduce(0, +) == 7)
        }
    }

    @Test("Histogram without bounds spans the matching rows; default 50 buckets; nothing matching is []")
    func histogramDefaults() async throws {
        try await withController { service, client in
            try Self.seedTimeline(service)
            for query in ["", "?type=B", "?sender.name=site-1", "?round_number__gte=3"] {
                let histogram = Self.counts(try await client.get("/api/v1/statuses/histogram\(query)"))
                #expect(histogram.counts.count == 50, "\(query)")
                let matching = try #require(try await client.get("/api/v1/statuses/count\(query)").integer())
                #expect(histogram.counts.reduce(0, +) == matching, "\(query)")
                #expect(histogram.counts.first ?? 0 >= 1 && histogram.counts.last ?? 0 >= 1, "\(query): first and last rows bound the span")
            }
            #expect(Self.counts(try await client.get("/api/v1/statuses/histogram?type=none")).counts.isEmpty)
        }
    }

    @Test("Histogram: bad buckets, dates or filters are a 400 naming the parameter", arguments: [
        ("buckets=0", "buckets"), ("buckets=201", "buckets"), ("buckets=ten", "buckets"), ("start_date=yesterday", "start_date"),
        ("end_date=2026-13-45", "end_date"), ("start_date=2026-01-02&end_date=2026-01-01", "end_date"), ("typo=A", "typo"),
    ])
    func histogramRefused(query: String, field: String) async throws {
        try await withController { service, client in
            try Self.seedTimeline(service)
            try await client.get("/api/v1/statuses/histogram?\(query)").expectBadRequest(naming: field, "\(query)")
        }
    }

    @Test("Date filters with __gte/__lt take ISO-8601 dates and datetimes")
    func dateFilters() async throws {
        try await withController { service, client in
            try Self.seedTimeline(service)
            let cases: [(String, Int)] = [
                ("committed_at__gte=2026-01-01T00:00:30Z", 4), ("committed_at__lt=2026-01-01T00:00:30Z", 3),
                ("committed_at__gt=2026-01-01T00:00:30.000Z", 3), ("committed_at__lte=2026-01-01T00:00:10Z", 2),
                ("committed_at__gte=2026-01-01", 7), ("committed_at__gte=2026-01-02", 0),
                ("committed_at__gte=2026-01-01T00:00:20Z&committed_at__lt=2026-01-01T00:00:59Z", 3),
            ]
            for (query, expected) in cases {
                #expect(try await client.get("/api/v1/statuses/count?\(query)").integer() == expected, "\(query)")
                #expect(try await client.get("/api/v1/statuses/?\(query)").list().count == expected, "\(query)")
            }
            #expect(try await client.post("/api/v1/statuses/count", json: "{\"updated_at__gte\": \"2026-01-01T00:00:35Z\"}").integer() == 3)
        }
    }
}
