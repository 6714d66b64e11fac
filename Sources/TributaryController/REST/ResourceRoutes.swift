import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// One REST resource over one table: its path, the columns it filters and sorts on, and what
/// its bodies add to the stored record (e.g. derived fields).
struct Resource<Record: FetchableRecord & TableRecord & Encodable & Sendable>: Sendable {
    let path: String
    let columns: [String]
    /// Optional fields that are not filter columns; shown as null when unset, like the columns.
    var optionalFields: [String] = []
    var extend: @Sendable (Record, inout [String: Any]) -> Void = { _, _ in }

    /// The record as a REST body.
    func present(_ record: Record) throws -> [String: Any] {
        var object = try Presentation.object(record, columns: columns + optionalFields)
        extend(record, &object)
        return object
    }

    func fetch(_ id: String, in store: Store) throws -> Record {
        guard let record = try store.fetch(Record.self, id: id) else { throw APIError.unknownId(id) }
        return record
    }
}

/// The read side every resource shares: `GET /` list, `POST /list`, `GET|POST /count` and
/// `GET /{id}` with the list conventions (filters, sorting and paging done by SQLite).
struct ResourceRoutes<Record: FetchableRecord & TableRecord & Encodable & Sendable> {
    let resource: Resource<Record>
    let store: Store

    func register<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group(RouterPath(resource.path))
        group.get { request, _ in
            try respondList(try request.listQuery())
        }
        group.post("list") { request, _ in
            var query = try request.listQuery()
            query.filters.merge(try await request.bodyFilters()) { _, body in body }
            return try respondList(query)
        }
        group.get("count") { request, _ in
            try APIResponse.object(try count(request.listQuery()))
        }
        group.post("count") { request, _ in
            var query = try request.listQuery()
            query.filters.merge(try await request.bodyFilters()) { _, body in body }
            return try APIResponse.object(try count(query))
        }
        group.get(":id") { _, context in
            try APIResponse.object(resource.present(resource.fetch(try context.parameters.require("id"), in: store)))
        }
    }

    private func respondList(_ query: ListQuery) throws -> Response {
        let page = try list(query)
        return try APIResponse.list(count: page.count, result: try page.rows.map(resource.present))
    }

    private func count(_ query: ListQuery) throws -> Int {
        var query = query
        query.limit = 1
        return try list(query).count
    }

    private func list(_ query: ListQuery) throws -> (count: Int, rows: [Record]) {
        do {
            return try store.list(Record.self, columns: resource.columns, query: query)
        } catch let error as StoreError {
            throw APIError.badRequest(error.description)
        }
    }
}
