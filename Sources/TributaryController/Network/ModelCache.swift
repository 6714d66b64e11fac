import TributaryModel
import TributaryStore
import TributaryWire

/// Models held in memory for serving to combiners: the few models a round needs, loaded
/// from the store once (and checked against their recorded checksum) rather than per chunk.
///
/// Bounded by bytes, not by count: models are kept while together they fit `budgetBytes`, and
/// the most recently used one is always kept. With a 2.4 GB model that is one model, not three.
actor ModelCache {
    struct Entry {
        var id: String
        var model: Model
        var checksum: UInt64
        /// Chunk checksums, hashed once for every combiner the model is served to.
        var chunkChecksums: ChunkChecksumCache
    }

    private let store: Store
    private let budgetBytes: Int
    private var entries: [Entry] = []

    init(store: Store, budgetBytes: Int = 512 << 20) {
        self.store = store
        self.budgetBytes = budgetBytes
    }

    func model(id: String) throws -> (model: Model, checksum: UInt64) {
        let entry = try entry(id: id)
        return (entry.model, entry.checksum)
    }

    func entry(id: String) throws -> Entry {
        if let index = entries.firstIndex(where: { $0.id == id }) {
            let entry = entries.remove(at: index)
            entries.append(entry)
            return entry
        }
        let model = try store.loadModel(id: id)
        let entry = Entry(id: id, model: model, checksum: model.checksum, chunkChecksums: ChunkChecksumCache())
        append(entry)
        return entry
    }

    /// Adds a model the controller just produced, so serving it costs no disk read.
    func insert(id: String, model: Model) {
        entries.removeAll { $0.id == id }
        append(Entry(id: id, model: model, checksum: model.checksum, chunkChecksums: ChunkChecksumCache()))
    }

    private func append(_ entry: Entry) {
        evict(toFit: entry.model.spec.totalBytes)
        entries.append(entry)
    }

    /// Drops least recently used models until `incoming` more bytes fit the budget.
    private func evict(toFit incoming: Int) {
        while !entries.isEmpty, entries.reduce(incoming, { $0 + $1.model.spec.totalBytes }) > budgetBytes {
            entries.removeFirst()
        }
    }
}
