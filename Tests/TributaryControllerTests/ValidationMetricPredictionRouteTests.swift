import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

/// The read-only event resources clients fill in during rounds: validations, metrics and
/// predictions, with FEDn's filter spellings (camelCase, dotted sender keys, `__op`, `null`).
@Suite("Validations, metrics and predictions: lists, filters, counts, get by id")
struct ValidationMetricPredictionRouteTests {
    /// Four validations, committed a second apart (v1 oldest):
    /// v1 s1/m1 site-a 10 c1 · v2 s1/m1 site-b 20 c2 · v3 s2/m2 site-c 30 (no correlation) · v4 (no session)/m2 site-a 40 c4.
    static func seedValidations(_ service: ControllerService) throws -> [String] {
        let rows: [(session: String?, model: String, sender: String, examples: Int, correlation: String?)] = [
            ("s1", "m1", "site-a", 10, "c1"), ("s1", "m1", "site-b", 20, "c2"), ("s2", "m2", "site-c", 30, nil), (nil, "m2", "site-a", 40, "c4"),
        ]
        return try rows.enumerated().map { i, row in
            let record = ValidationRecord(modelId: row.model, sessionId: row.session, roundNumber: i + 1, correlationId: row.correlation,
                                          numExamples: row.examples, metrics: ["accuracy": Double(i) / 10], sender: .client(row.sender),
                                          receiver: .combiner(i < 2 ? "comb-a" : "comb-b"), now: Fixtures.time(Double(i)))
            try service.store.insert(record)
            return record.validationId
        }
    }

    @Test("Validations: equality, camelCase, dotted, operator and null filters on list and count")
    func validationFilters() async throws {
        try await withController { service, client in
            _ = try Self.seedValidations(service)
            let path = "/api/v1/validations/"
            // Default order: newest first.
            let all = try await client.get(path)
            #expect(all.status == .ok)
            #expect(all.list().count == 4)
            #expect(all.listed("num_examples") == ["40", "30", "20", "10"])
            let cases: [(String, [String])] = [
                ("sessionId=s1", ["20", "10"]), ("session_id=s1", ["20", "10"]), ("modelId=m2", ["40", "30"]),
                ("correlationId=c2", ["20"]), ("sender.name=site-a", ["40", "10"]), ("sender.role=client", ["40", "30", "20", "10"]),
                ("receiver.name=comb-b", ["40", "30"]), ("num_examples__gte=20", ["40", "30", "20"]), ("num_examples__gt=20", ["40", "30"]),
                ("num_examples__lt=30", ["20", "10"]), ("numExamples__lte=30", ["30", "20", "10"]), ("num_examples__ne=20", ["40", "30", "10"]),
                ("num_examples__eq=30", ["30"]), ("round_number__gte=3", ["40", "30"]), ("session_id=null", ["40"]),
                ("session_id__ne=null", ["30", "20", "10"]), ("correlation_id=null", ["30"]), ("sender.name=site-a&modelId=m1", ["10"]),
                ("sender.name=nobody", []),
            ]
            for (query, expected) in cases {
                let response = try await client.get("\(path)?\(query)")
                #expect(response.status == .ok, "\(query): \(response.text)")
                #expect(response.listed("num_examples") == expected, "\(query)")
                #expect(response.list().count == expected.count, "\(query)")
                #expect(try await client.get("/api/v1/validations/count?\(query)").integer() == expected.count, "count \(query)")
            }
        }
    }

    @Test("Validations: POST /list and /count with comma and JSON-array IN filters, and paging headers")
    func validationBodyFiltersAndPaging() async throws {
        try await withController { service, client in
            _ = try Self.seedValidations(service)
            let asc = ["X-Sort-Key": "num_examples", "X-Sort-Order": "asc"]
            let bodies: [(String, [String])] = [
                ("{\"sender.name\": \"site-a, site-b\"}", ["10", "20", "40"]),
                ("{\"sender_name\": [\"site-b\", \"site-c\"]}", ["20", "30"]),
                ("{\"num_examples\": [10, 30]}", ["10", "30"]),
                ("{\"sessionId\": \"s2\"}", ["30"]),
                ("{\"session_id\": null}", ["40"]),
                ("{\"num_examples__gte\": 30}", ["30", "40"]),
                ("{\"model_id\": \"m1\", \"correlation_id\": \"c1,c2,c3\"}", ["10", "20"]),
            ]
            for (body, expected) in bodies {
                let list = try await client.post("/api/v1/validations/list", json: body, headers: asc)
                #expect(list.status == .ok, "\(body): \(list.text)")
                #expect(list.listed("num_examples") == expected, "\(body)")
                #expect(list.list().count == expected.count, "\(body)")
                #expect(try await client.post("/api/v1/validations/count", json: body).integer() == expected.count, "count \(body)")
            }
            // Paging: count is the total, rows are the page; the sort key may be camelCase or dotted.
            let page = try await client.get("/api/v1/validations/", headers: ["X-Sort-Key": "numExamples", "X-Sort-Order": "asc", "X-Limit": "2", "X-Skip": "1"])
            #expect(page.list().count == 4)
            #expect(page.listed("num_examples") == ["20", "30"])
            let bySender = try await client.post("/api/v1/validations/list", json: "{}", headers: ["X-Sort-Key": "sender.name", "X-Sort-Order": "desc", "X-Limit": "1"])
            #expect(bySender.listed("num_examples") == ["30"])
            #expect(try await client.get("/api/v1/validations/count", headers: ["X-Limit": "1"]).integer() == 4)
            let descending = try await client.get("/api/v1/validations", headers: ["X-Sort-Key": "num_examples"])
            #expect(descending.listed("num_examples") == ["40", "30", "20", "10"])
        }
    }

    @Test("Validations: GET by id nests sender and receiver; unknown id is 404; unknown filter is 400")
    func validationById() async throws {
        try await withController { service, client in
            let ids = try Self.seedValidations(service)
            let response = try await client.get("/api/v1/validations/\(ids[1])")
            #expect(response.status == .ok)
            let body = response.object()
            #expect(body["validation_id"] as? String == ids[1])
            #expect(body["model_id"] as? String == "m1")
            #expect(body["session_id"] as? String == "s1")
            #expect(intValue(body["num_examples"]) == 20)
            #expect(body["data"] as? String == "{\"accuracy\":0.1}")
            #expect(body["timestamp"] as? String == body["committed_at"] as? String)
            let sender = try #require(body["sender"] as? [String: Any])
            #expect(sender["name"] as? String == "site-b" && sender["role"] as? String == "client" && sender["client_id"] as? String == "site-b")
            let receiver = try #require(body["receiver"] as? [String: Any])
            #expect(receiver["name"] as? String == "comb-a" && receiver["role"] as? String == "combiner")
            #expect(body["sender_name"] == nil, "flat sender columns are nested, not repeated")

            try await client.get("/api/v1/validations/no-such-validation").expectNotFound(naming: "no-such-validation")
            try await client.get("/api/v1/validations/?sessionIdd=s1").expectBadRequest(naming: "sessionIdd")
            try await client.post("/api/v1/validations/count", json: "{\"bogus.key\": \"x\"}").expectBadRequest(naming: "bogus.key")
            try await client.get("/api/v1/validations/", headers: ["X-Sort-Key": "data"]).expectBadRequest(naming: "data")
        }
    }

    @Test("Metrics: filters by key, value and step operators, sender; POST /list IN; get by id and 404")
    func metrics() async throws {
        try await withController { service, client in
            let values: [(key: String, value: Double, step: Int, sender: String)] = [
                ("train_loss", 0.9, 1, "site-a"), ("train_loss", 0.5, 2, "site-a"), ("train_loss", 0.7, 1, "site-b"), ("train_acc", 0.6, 2, "site-b"),
            ]
            var ids: [String] = []
            for (i, m) in values.enumerated() {
                let record = MetricRecord(key: m.key, value: m.value, step: m.step, modelId: "m\(m.step)", roundId: "s1-r\(m.step)", sessionId: "s1",
                                          sender: .client(m.sender), now: Fixtures.time(Double(i)))
                try service.store.insert(record)
                ids.append(record.metricId)
            }
            let cases: [(String, Int)] = [
                ("key=train_loss", 3), ("value__lt=0.7", 2), ("value__lte=0.7", 3), ("value__gt=0.8", 1), ("step__gte=2", 2),
                ("sender.client_id=site-b", 2), ("sessionId=s1&key=train_acc", 1), ("roundId=s1-r1", 2), ("value=0.5", 1),
            ]
            for (query, expected) in cases {
                let response = try await client.get("/api/v1/metrics/?\(query)")
                #expect(response.status == .ok, "\(query): \(response.text)")
                #expect(response.list().count == expected, "\(query)")
                #expect(response.list().rows.count == expected, "\(query)")
                #expect(try await client.get("/api/v1/metrics/count?\(query)").integer() == expected, "\(query)")
            }
            let sorted = try await client.post("/api/v1/metrics/list", json: "{\"key\": [\"train_loss\"], \"sender.name\": \"site-a,site-b\"}",
                                               headers: ["X-Sort-Key": "value", "X-Sort-Order": "asc"])
            #expect(sorted.listed("value") == ["0.5", "0.7", "0.9"])
            #expect(try await client.post("/api/v1/metrics/count", json: "{\"step\": 2}").integer() == 2)

            let one = try await client.get("/api/v1/metrics/\(ids[2])")
            #expect(one.status == .ok)
            let body = one.object()
            #expect(body["metric_id"] as? String == ids[2])
            #expect(body["key"] as? String == "train_loss")
            #expect((body["value"] as? NSNumber)?.doubleValue == 0.7)
            #expect(intValue(body["step"]) == 1)
            #expect((body["sender"] as? [String: Any])?["name"] as? String == "site-b")
            try await client.get("/api/v1/metrics/ghost-metric").expectNotFound(naming: "ghost-metric")
        }
    }

    @Test("Predictions: rows of one run share prediction_id; camelCase filters; get by row id and 404")
    func predictions() async throws {
        try await withController { service, client in
            var ids: [String] = []
            for (i, (run, sender)) in [("p1", "site-a"), ("p1", "site-b"), ("p2", "site-a")].enumerated() {
                let record = PredictionRecord(predictionId: run, modelId: run == "p1" ? "m1" : "m2", numExamples: 5 * (i + 1),
                                              output: ["mean": Double(i)], sender: .client(sender), receiver: .combiner("comb-a"),
                                              now: Fixtures.time(Double(i)))
                try service.store.insert(record)
                ids.append(record.id)
            }
            let cases: [(String, Int)] = [
                ("predictionId=p1", 2), ("prediction_id=p2", 1), ("modelId=m1", 2), ("correlationId=p2", 1),
                ("sender.name=site-a", 2), ("receiver.name=comb-a", 3), ("num_examples__gte=10", 2),
            ]
            for (query, expected) in cases {
                let response = try await client.get("/api/v1/predictions/?\(query)")
                #expect(response.list().count == expected, "\(query): \(response.text)")
                #expect(try await client.get("/api/v1/predictions/count?\(query)").integer() == expected, "\(query)")
            }
            // `meta` is in the body but not a filter column: refused, naming it.
            try await client.get("/api/v1/predictions/?meta=null").expectBadRequest(naming: "meta")
            let listed = try await client.post("/api/v1/predictions/list", json: "{\"predictionId\": \"p1,p2\", \"sender.name\": [\"site-a\"]}",
                                               headers: ["X-Sort-Key": "num_examples", "X-Sort-Order": "asc"])
            #expect(listed.listed("prediction_id") == ["p1", "p2"])
            #expect(listed.listed("num_examples") == ["5", "15"])

            let one = try await client.get("/api/v1/predictions/\(ids[1])")
            #expect(one.status == .ok)
            let body = one.object()
            #expect(body["id"] as? String == ids[1])
            #expect(body["prediction_id"] as? String == "p1")
            #expect(body["correlation_id"] as? String == "p1")
            #expect(body["data"] as? String == "{\"mean\":1}")
            #expect((body["receiver"] as? [String: Any])?["name"] as? String == "comb-a")
            try await client.get("/api/v1/predictions/ghost-prediction").expectNotFound(naming: "ghost-prediction")
        }
    }
}
