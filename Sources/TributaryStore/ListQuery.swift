import Foundation
import GRDB

/// A list request as the REST facade receives it: filters, sort and paging, turned into one
/// SQL query (filters, sorting and paging are done by SQLite, never in memory).
///
/// Filter keys follow FEDn: `field` (equality; several values: IN), `field__gt|__gte|__lt|__lte|__ne|__eq`,
/// dotted nested keys (`sender.name` → column `sender_name`) and camelCase (`sessionId`).
/// The value `null` matches SQL NULL.
public struct ListQuery: Sendable, Equatable {
    /// Filter key (as given) → accepted values (one value: equality; several: IN).
    public var filters: [String: [String]] = [:]
    public var sortKey: String? = nil
    public var ascending: Bool = false
    public var limit: Int? = nil
    public var skip: Int = 0

    public init(filters: [String: [String]] = [:], sortKey: String? = nil, ascending: Bool = false, limit: Int? = nil, skip: Int = 0) {
        self.filters = filters
        self.sortKey = sortKey
        self.ascending = ascending
        self.limit = limit
        self.skip = skip
    }

    /// The column a REST key names: `sender.name` → `sender_name`, `sessionId` → `session_id`.
    public static func column(forKey key: String) -> String {
        var out = ""
        for ch in key {
            if ch == "." || ch == "-" { out.append("_") }
            else if ch.isUppercase { out.append("_"); out.append(contentsOf: ch.lowercased()) }
            else { out.append(ch) }
        }
        return out
    }

    enum Comparison: String, CaseIterable { case gt, gte, lt, lte, ne, eq }

    /// Splits `field__op` into its column and comparison.
    static func parse(_ key: String) -> (column: String, comparison: Comparison) {
        for op in Comparison.allCases where key.hasSuffix("__\(op.rawValue)") {
            return (column(forKey: String(key.dropLast(op.rawValue.count + 2))), op)
        }
        return (column(forKey: key), .eq)
    }

    /// The SQL condition of one filter. `true`/`false` also match SQLite's 1/0 booleans.
    static func condition(_ column: String, _ comparison: Comparison, _ values: [String]) -> SQLExpression {
        let c = Column(column)
        func equal(_ v: String) -> SQLExpression {
            switch v {
            case "null": return c == nil
            case "true": return c == "true" || c == 1
            case "false": return c == "false" || c == 0
            default: return c == v
            }
        }
        switch comparison {
        case .eq: return values.count == 1 ? equal(values[0]) : values.map(equal).joined(operator: .or)
        case .ne: return values.count == 1 && values[0] == "null" ? c != nil : !values.map(equal).joined(operator: .or)
        case .gt: return c > operand(values[0])
        case .gte: return c >= operand(values[0])
        case .lt: return c < operand(values[0])
        case .lte: return c <= operand(values[0])
        }
    }

    /// A comparison value as FEDn reads it: a number, an ISO-8601 date or datetime, or text.
    /// Dates are stored as GRDB's `yyyy-MM-dd HH:mm:ss.SSS` text, so an ISO string compared
    /// as text would be wrong (its `T` sorts after the stored space): convert it to a Date.
    static func operand(_ value: String) -> DatabaseValue {
        if let number = Double(value) { return number.databaseValue }
        return isoDate(value)?.databaseValue ?? value.databaseValue
    }

    /// An ISO-8601 datetime (with or without fractional seconds) or date, as REST clients send them.
    public static func isoDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

extension Store {
    /// Lists rows of a record type: the total count matching the filters (ignoring paging)
    /// and one page of rows. Unknown filter or sort fields are refused, naming the field.
    public func list<R: FetchableRecord & TableRecord & Sendable>(_ type: R.Type, columns: [String], query: ListQuery) throws -> (count: Int, rows: [R]) {
        var request = try filtered(R.self, columns: columns, query: query)
        let sortColumn = query.sortKey.map(ListQuery.column(forKey:)) ?? "committed_at"
        guard columns.contains(sortColumn) else { throw StoreError.invalidQuery("unknown sort field '\(query.sortKey ?? "")'") }
        let primary = Column(sortColumn), secondary = Column("committed_at")
        request = request.order(query.ascending ? primary.asc : primary.desc, query.ascending ? secondary.asc : secondary.desc)
        let counted = request
        let paged = request.limit(query.limit ?? -1, offset: query.skip)
        return try database.read { db in
            (try counted.fetchCount(db), try paged.fetchAll(db))
        }
    }
}

extension Store {
    /// The rows of `R` matching the query's filters (no sort, no paging).
    func filtered<R: TableRecord>(_ type: R.Type, columns: [String], query: ListQuery) throws -> QueryInterfaceRequest<R> {
        var request = R.all()
        for (key, values) in query.filters.sorted(by: { $0.key < $1.key }) {
            let (column, comparison) = ListQuery.parse(key)
            guard columns.contains(column) else { throw StoreError.invalidQuery("unknown filter field '\(key)'") }
            guard !values.isEmpty else { continue }
            request = request.filter(ListQuery.condition(column, comparison, values))
        }
        return request
    }

    /// Counts of matching rows in `buckets` equal time slices of [start, end) by
    /// `committed_at`, computed by SQLite. Without bounds, the matching rows' span is used.
    public func histogram<R: TableRecord & Sendable>(_ type: R.Type, columns: [String], query: ListQuery, start: Date?, end: Date?,
                                                     buckets: Int) throws -> [(start: Date, count: Int)] {
        let matching = try filtered(R.self, columns: columns, query: query)
        return try database.read { db in
            let span = try Row.fetchOne(db, matching.select(min(Column("committed_at")), max(Column("committed_at"))))
            guard let first: Date = start ?? span?[0], let last: Date = end ?? (span?[1] as Date?).map({ $0.addingTimeInterval(0.001) }),
                  last > first else { return [] }
            let width = last.timeIntervalSince(first) / Double(buckets)
            // Whole milliseconds since `first` (dates are stored to the millisecond), then integer
            // division: julianday's floating point alone puts a row that lies exactly on a
            // bucket's start a hair early, into the bucket before.
            let spanMs = Swift.max(1, Int((last.timeIntervalSince(first) * 1000).rounded()))
            let bucket = SQL("CAST(ROUND((julianday(committed_at) - julianday(\(first))) * 86400000.0) AS INTEGER) * \(buckets) / \(spanMs)")
            let rows = try Row.fetchAll(db, matching
                .filter(Column("committed_at") >= first && Column("committed_at") < last)
                .select(bucket.forKey("bucket"), count(SQL("*")).forKey("n"))
                .group(bucket))
            var counts = [Int](repeating: 0, count: buckets)
            for row in rows {
                let b: Int = row["bucket"], n: Int = row["n"]
                counts[Swift.min(Swift.max(b, 0), buckets - 1)] += n
            }
            return counts.enumerated().map { (first.addingTimeInterval(Double($0.offset) * width), $0.element) }
        }
    }
}
