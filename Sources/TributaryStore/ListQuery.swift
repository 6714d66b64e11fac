import GRDB

/// A list request as the REST facade receives it: equality / IN filters, sort and paging,
/// turned into one SQL query (filters, sorting and paging are done by SQLite).
public struct ListQuery: Sendable, Equatable {
    /// Column → accepted values (one value: equality; several: IN).
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
}

extension Store {
    /// Lists rows of a record type: the total count matching the filters (ignoring paging)
    /// and one page of rows. Unknown filter or sort fields are refused, naming the field.
    public func list<R: FetchableRecord & TableRecord & Sendable>(_ type: R.Type, columns: [String], query: ListQuery) throws -> (count: Int, rows: [R]) {
        for key in query.filters.keys where !columns.contains(key) {
            throw StoreError.invalidQuery("unknown filter field '\(key)'")
        }
        if let key = query.sortKey, !columns.contains(key) {
            throw StoreError.invalidQuery("unknown sort field '\(key)'")
        }
        var request = R.all()
        for (key, values) in query.filters {
            request = values.count == 1 ? request.filter(Column(key) == values[0]) : request.filter(values.contains(Column(key)))
        }
        let sortColumn = Column(query.sortKey ?? "committed_at")
        request = request.order(query.ascending ? sortColumn.asc : sortColumn.desc, query.ascending ? Column("committed_at").asc : Column("committed_at").desc)
        let counted = request
        let paged = request.limit(query.limit ?? -1, offset: query.skip)
        return try database.read { db in
            (try counted.fetchCount(db), try paged.fetchAll(db))
        }
    }
}
