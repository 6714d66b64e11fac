import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

/// One list resource, seeded with three rows whose `key` values are `values` (ascending).
struct ListResource: Sendable, CustomTestStringConvertible {
    let group: String
    let key: String
    let values: [String]

    var path: String { "/api/v1/\(group)" }
    var testDescription: String { group }

    static let all = [
        ListResource(group: "sessions", key: "name", values: ["s-a", "s-b", "s-c"]),
        ListResource(group: "rounds", key: "round_number", values: ["1", "2", "3"]),
        ListResource(group: "models", key: "name", values: ["m-a", "m-b", "m-c"]),
        ListResource(group: "clients", key: "name", values: ["c-a", "c-b", "c-c"]),
        ListResource(group: "combiners", key: "name", values: ["comb-a", "comb-b", "comb-c"]),
    ]

    /// Three rows in every resource, inserted in an order that is not the sort order.
    static func seed(_ service: ControllerService) async throws {
        let store = service.store
        var modelIds: [String] = []
        for (i, name) in ["m-b", "m-c", "m-a"].enumerated() {
            modelIds.append(try Fixtures.storeModel(service, seed: Float(i + 1), name: name))
        }
        for name in ["s-c", "s-a", "s-b"] {
            try store.save(SessionRecord(sessionId: Store.newId(), name: name, seedModelId: modelIds[0], config: SessionConfig()))
        }
        let session = try #require(try store.fetchAll(SessionRecord.self, where: "name", equals: "s-a").first)
        for number in [2, 3, 1] {
            try store.save(RoundRecord(sessionId: session.sessionId, roundNumber: number, modelIn: modelIds[0]))
        }
        for (i, name) in ["comb-b", "comb-a", "comb-c"].enumerated() {
            try await Fixtures.registerCombiner(service, name, port: 7300 + 2 * i)
        }
        for name in ["c-c", "c-b", "c-a"] {
            try store.save(ClientRecord(clientId: "id-\(name)", name: name, combiner: "comb-a", combinerPreferred: nil, ip: nil, package: nil))
        }
    }
}

@Suite("List conventions: {count, result}, /count, paging, sorting, filters")
struct ListConventionTests {
    @Test("List and count answer with and without the trailing slash", arguments: ListResource.all)
    func listAndCount(resource: ListResource) async throws {
        try await withController { service, client in
            try await ListResource.seed(service)
            for path in [resource.path, resource.path + "/"] {
                let response = try await client.get(path)
                #expect(response.status == .ok, "GET \(path): \(response.text)")
                #expect(response.headers[.contentType] == "application/json")
                let list = response.list()
                #expect(list.count == 3, "GET \(path)")
                #expect(list.rows.count == 3, "GET \(path)")
                #expect(Set(response.listed(resource.key)) == Set(resource.values))
                #expect(list.rows.allSatisfy { $0["committed_at"] != nil && $0["updated_at"] != nil })
            }
            #expect(try await client.get(resource.path + "/count").integer() == 3)
            #expect(try await client.post(resource.path + "/count", json: "{}").integer() == 3)
            #expect(try await client.post(resource.path + "/list", json: "{}").list().count == 3)
        }
    }

    @Test("X-Limit and X-Skip page the rows; count ignores paging", arguments: ListResource.all)
    func paging(resource: ListResource) async throws {
        let v = resource.values
        try await withController { service, client in
            try await ListResource.seed(service)
            let sort = ["X-Sort-Key": resource.key, "X-Sort-Order": "asc"]
            let cases: [([String: String], [String])] = [
                (["X-Limit": "2"], Array(v[0..<2])),
                (["X-Limit": "2", "X-Skip": "1"], Array(v[1..<3])),
                (["X-Skip": "2"], [v[2]]),
                (["X-Skip": "5"], []),
                (["X-Limit": "0"], v),
            ]
            for (paging, expected) in cases {
                let headers = sort.merging(paging) { $1 }
                let response = try await client.get(resource.path + "/", headers: headers)
                #expect(response.status == .ok)
                #expect(response.list().count == 3, "\(paging)")
                #expect(response.listed(resource.key) == expected, "\(paging)")
                let posted = try await client.post(resource.path + "/list", json: "{}", headers: headers)
                #expect(posted.listed(resource.key) == expected, "POST list \(paging)")
                #expect(try await client.get(resource.path + "/count", headers: headers).integer() == 3, "\(paging)")
            }
        }
    }

    @Test("X-Sort-Key with X-Sort-Order asc; anything else (or none) is descending", arguments: ListResource.all)
    func sorting(resource: ListResource) async throws {
        try await withController { service, client in
            try await ListResource.seed(service)
            let ascending = resource.values
            let orders: [(String?, [String])] = [("asc", ascending), ("ASC", ascending), ("desc", ascending.reversed()),
                                                 ("sideways", ascending.reversed()), (nil, ascending.reversed())]
            for (order, expected) in orders {
                var headers = ["X-Sort-Key": resource.key]
                headers["X-Sort-Order"] = order
                let response = try await client.get(resource.path, headers: headers)
                #expect(response.listed(resource.key) == expected, "X-Sort-Order \(order ?? "absent")")
            }
        }
    }

    @Test("Query-string equality filters on list and count", arguments: ListResource.all)
    func equalityFilter(resource: ListResource) async throws {
        try await withController { service, client in
            try await ListResource.seed(service)
            let wanted = resource.values[1]
            let response = try await client.get("\(resource.path)/?\(resource.key)=\(wanted)")
            #expect(response.status == .ok)
            #expect(response.list().count == 1)
            #expect(response.listed(resource.key) == [wanted])
            #expect(try await client.get("\(resource.path)?\(resource.key)=\(wanted)").listed(resource.key) == [wanted])
            #expect(try await client.get("\(resource.path)/count?\(resource.key)=\(wanted)").integer() == 1)
            let none = try await client.get("\(resource.path)/?\(resource.key)=999")
            #expect(none.status == .ok)
            #expect(none.list().count == 0 && none.list().rows.isEmpty)
        }
    }

    @Test("POST /list and /count take body filters; a comma-separated value is IN", arguments: ListResource.all)
    func bodyFilters(resource: ListResource) async throws {
        let v = resource.values
        try await withController { service, client in
            try await ListResource.seed(service)
            let sort = ["X-Sort-Key": resource.key, "X-Sort-Order": "asc"]
            let inFilter = "{\"\(resource.key)\": \"\(v[0]), \(v[2])\"}"
            let list = try await client.post(resource.path + "/list", json: inFilter, headers: sort)
            #expect(list.status == .ok)
            #expect(list.list().count == 2)
            #expect(list.listed(resource.key) == [v[0], v[2]])
            #expect(try await client.post(resource.path + "/count", json: inFilter).integer() == 2)

            let single = "{\"\(resource.key)\": \"\(v[1])\"}"
            #expect(try await client.post(resource.path + "/list", json: single).listed(resource.key) == [v[1]])
            #expect(try await client.post(resource.path + "/count", json: single).integer() == 1)
        }
    }

    @Test("A numeric JSON filter value matches an integer column")
    func numericBodyFilter() async throws {
        try await withController { service, client in
            try await ListResource.seed(service)
            #expect(try await client.post("/api/v1/rounds/list", json: "{\"round_number\": 2}").listed("round_number") == ["2"])
            #expect(try await client.post("/api/v1/rounds/count", json: "{\"round_number\": 2}").integer() == 1)
        }
    }

    @Test("An unknown filter or sort field is a 400 naming the field", arguments: ListResource.all)
    func unknownField(resource: ListResource) async throws {
        try await withController { service, client in
            try await ListResource.seed(service)
            let responses = [
                try await client.get(resource.path + "/?bogus_field=1"),
                try await client.get(resource.path + "/count?bogus_field=1"),
                try await client.post(resource.path + "/list", json: "{\"bogus_field\": \"a,b\"}"),
                try await client.post(resource.path + "/count", json: "{\"bogus_field\": \"a\"}"),
                try await client.get(resource.path + "/", headers: ["X-Sort-Key": "bogus_field"]),
            ]
            for response in responses {
                #expect(response.status == .badRequest)
                #expect(response.message().contains("bogus_field"))
            }
        }
    }

    @Test("A bad X-Limit or X-Skip is a 400 naming the header", arguments: [
        ("X-Limit", "abc"), ("X-Limit", "-1"), ("X-Limit", "1.5"), ("X-Skip", "x"), ("X-Skip", "-3"),
    ])
    func badPagingHeader(header: String, value: String) async throws {
        try await withController { service, client in
            try await ListResource.seed(service)
            for path in ["/api/v1/sessions/", "/api/v1/models/count"] {
                let response = try await client.get(path, headers: [header: value])
                #expect(response.status == .badRequest, "\(path) \(header): \(value)")
                #expect(response.message().contains(header))
            }
            let posted = try await client.post("/api/v1/clients/list", json: "{}", headers: [header: value])
            #expect(posted.status == .badRequest)
        }
    }

    @Test("A POST /list body that is not a JSON object of strings, numbers or lists is a 400", arguments: [
        "[1, 2]", "not json", "{\"name\": {\"$in\": [\"a\"]}}", "{\"nmae\": \"a\"}",
    ])
    func badBodyFilters(body: String) async throws {
        try await withController { _, client in
            for path in ["/api/v1/sessions/list", "/api/v1/sessions/count"] {
                let response = try await client.post(path, json: body)
                #expect(response.status == .badRequest, "\(path) \(body)")
                #expect(!response.message().isEmpty)
            }
        }
    }
}
