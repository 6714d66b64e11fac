import Foundation
import Hummingbird
import TributaryStore

extension Request {
    /// The body as JSON of type `T`; a 400 that names the problem otherwise.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int = 1 << 20) async throws -> T {
        let buffer = try await body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("request body must be a JSON object") }
        return try Self.decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// `data` as JSON of type `T`; a 400 naming the missing or mistyped field otherwise.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.keyNotFound(let key, let ctx) {
            throw APIError.badRequest("missing field '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx) {
            throw APIError.badRequest("wrong type for field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch let error as APIError {
            throw error
        } catch DecodingError.dataCorrupted(let ctx) where !ctx.codingPath.isEmpty {
            throw APIError.badRequest("invalid value for field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': \(ctx.debugDescription)")
        } catch {
            throw APIError.badRequest("invalid JSON body")
        }
    }

    /// The body as an object: JSON, or `application/x-www-form-urlencoded` (FEDn accepts both).
    /// An empty body is an empty object where `allowEmpty`, else a 400.
    func bodyObject(limit: Int = 1 << 20, allowEmpty: Bool = true) async throws -> [String: Any] {
        let buffer = try await body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else {
            if allowEmpty { return [:] }
            throw APIError.badRequest("request body must be a JSON object")
        }
        let data = Data(buffer.readableBytesView)
        if (headers[.contentType] ?? "").lowercased().hasPrefix("application/x-www-form-urlencoded") {
            var object: [String: Any] = [:]
            for pair in String(decoding: data, as: UTF8.self).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
                object[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            return object
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw APIError.badRequest("request body must be a JSON object")
        }
        return object
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

    /// Filters from a POST body (`/list`, `/count`): a comma-separated value (or a JSON
    /// array) is an IN filter.
    func bodyFilters() async throws -> [String: [String]] {
        var filters: [String: [String]] = [:]
        for (key, value) in try await bodyObject() {
            switch value {
            case let s as String: filters[key] = s.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            case let n as NSNumber: filters[key] = [n.isJSONBool ? (n.boolValue ? "true" : "false") : n.stringValue]
            case let a as [Any]: filters[key] = a.map { "\($0)" }
            case is NSNull: filters[key] = ["null"]
            default: throw APIError.badRequest("filter '\(key)' must be a string, a number or a list")
            }
        }
        return filters
    }

    /// A header's value by case-insensitive name.
    func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.canonicalName == lowered }?.value
    }

    /// A query parameter, if present.
    func query(_ name: String) -> String? {
        uri.queryParameters.get(name)
    }

    /// `true`/`false` (any case) from the query string; `fallback` when absent.
    func flag(_ name: String, default fallback: Bool) throws -> Bool {
        guard let text = query(name) else { return fallback }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw APIError.badRequest("query parameter '\(name)' must be true or false")
        }
    }

    func positiveHeader(_ name: String) throws -> Int? {
        guard let text = header(name), !text.isEmpty else { return nil }
        guard let value = Int(text), value >= 0 else { throw APIError.badRequest("header \(name) must be a non-negative integer") }
        return value == 0 ? nil : value
    }
}

extension Dictionary where Key == String, Value == Any {
    /// A string field; a 400 naming it when present with another type, or missing and required.
    func string(_ key: String, required: Bool = false) throws -> String? {
        switch self[key] {
        case nil, is NSNull:
            if required { throw APIError.badRequest("missing field '\(key)'") }
            return nil
        case let s as String:
            if required && s.isEmpty { throw APIError.badRequest("field '\(key)' must not be empty") }
            return s
        default:
            throw APIError.badRequest("field '\(key)' must be a string")
        }
    }

    /// A number field (JSON number, or a numeric string from a form).
    func number(_ key: String) throws -> Double? {
        switch self[key] {
        case nil, is NSNull: return nil
        case let n as NSNumber where !n.isJSONBool: return n.doubleValue
        case let s as String:
            guard let d = Double(s) else { throw APIError.badRequest("field '\(key)' must be a number") }
            return d
        default: throw APIError.badRequest("field '\(key)' must be a number")
        }
    }

    /// A whole-number field. Checked before converting, since `Int(Double)` traps on values
    /// beyond Int's range (a body such as `{"round_number": 1e300}` must not crash the server).
    func integer(_ key: String) throws -> Int? {
        guard let value = try number(key) else { return nil }
        guard value == value.rounded(), abs(value) < 1e15 else { throw APIError.badRequest("field '\(key)' must be an integer") }
        return Int(value)
    }

    /// Refuses keys outside `allowed`, naming the first.
    func onlyKeys(_ allowed: Set<String>) throws {
        if let bad = keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest("field '\(bad)' cannot be set here (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}

extension NSNumber {
    /// Whether JSONSerialization made this number from `true`/`false` (type encoding `c`).
    var isJSONBool: Bool { String(cString: objCType) == "c" }
}
