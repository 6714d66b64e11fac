import Foundation
import Hummingbird
import TributaryStore

extension Request {
    /// The body as JSON of type `T`; a 400 that names the problem otherwise.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int = 1 << 20) async throws -> T {
        let buffer = try await body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("request body must be a JSON object") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch DecodingError.keyNotFound(let key, let ctx) {
            throw APIError.badRequest("missing field '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx) {
            throw APIError.badRequest("wrong type for field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw APIError.badRequest("invalid JSON body")
        }
    }

    /// Paging and sorting from `X-Limit`, `X-Skip`, `X-Sort-Key`, `X-Sort-Order`, and
    /// equality filters from the query string.
    func listQuery() throws -> ListQuery {
        var query = ListQuery()
        query.limit = try positiveHeader("X-Limit")
        query.skip = try positiveHeader("X-Skip") ?? 0
        query.sortKey = header("X-Sort-Key").flatMap { $0.isEmpty ? nil : $0 }
        query.ascending = header("X-Sort-Order")?.lowercased() == "asc"
        for (key, value) in uri.queryParameters {
            query.filters[String(key)] = [String(value)]
        }
        return query
    }

    /// Filters from a POST body (`/list`, `/count`): a comma-separated value is an IN filter.
    func bodyFilters() async throws -> [String: [String]] {
        let buffer = try await body.collect(upTo: 1 << 20)
        guard buffer.readableBytes > 0 else { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else {
            throw APIError.badRequest("request body must be a JSON object of filters")
        }
        var filters: [String: [String]] = [:]
        for (key, value) in object {
            switch value {
            case let s as String: filters[key] = s.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            case let n as NSNumber: filters[key] = [n.stringValue]
            default: throw APIError.badRequest("filter '\(key)' must be a string or a number")
            }
        }
        return filters
    }

    /// A header's value by case-insensitive name.
    func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.canonicalName == lowered }?.value
    }

    private func positiveHeader(_ name: String) throws -> Int? {
        guard let text = header(name), !text.isEmpty else { return nil }
        guard let value = Int(text), value >= 0 else { throw APIError.badRequest("header \(name) must be a non-negative integer") }
        return value == 0 ? nil : value
    }
}
