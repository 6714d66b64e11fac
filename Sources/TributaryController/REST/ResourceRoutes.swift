import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// The read side every resource shares: `GET /` list, `POST /list`, `GET|POST /count` and
/// `GET /{id}` with the list conventions (filters, sorting and paging done by SQLite).
struct ResourceRoutes<Record: FetchableRecord & TableRecord & Encodable & Sendable> {
    let path: String
    let name: String
    let columns: [String]
    let store: Store

    func register<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group(RouterPath(path))
        group.get { request, _ in
            let page = try list(request.listQuery())
            return try APIResponse.list(count: page.count, result: page.rows)
        }
        group.post("list") { request, _ in
            var query = try request.listQuery()
            query.filters.merge(try await request.bodyFilters()) { _, body in body }
            let page = try list(query)
            return try APIResponse.list(count: page.count, result: page.rows)
        }
        group.get("count") { request, _ in
            var query = try request.listQuery()
            query.limit = 1
            return try APIResponse.json(list(query).count)
        }
        group.post("count") { request, _ in
            var query = try request.listQuery()
            query.filters.merge(try await request.bodyFilters()) { _, body in body }
            query.limit = 1
            return try APIResponse.json(list(query).count)
        }
        group.get(":id") { _, context in
            let id = try context.parameters.require("id")
            guard let record = try store.fetch(Record.self, id: id) else {
                throw APIError.notFound("\(name) with id \(id) not found")
            }
            return try APIResponse.json(record)
        }
    }

    private func list(_ query: ListQuery) throws -> (count: Int, rows: [Record]) {
        do {
            return try store.list(Record.self, columns: columns, query: query)
        } catch let error as StoreError {
            throw APIError.badRequest(error.description)
        }
    }
}
