import TributaryModel
import TributaryStore

/// Models held in memory for serving to combiners: the few models a round needs, loaded
/// from the store once (and checked against their recorded checksum) rather than per chunk.
actor ModelCache {
    private let store: Store
    private let capacity: Int
    private var entries: [(id: String, model: Model, checksum: UInt64)] = []

    init(store: Store, capacity: Int = 3) {
        self.store = store
        self.capacity = capacity
    }

    func model(id: String) throws -> (model: Model, checksum: UInt64) {
        if let index = entries.firstIndex(where: { $0.id == id }) {
            let entry = entries.remove(at: index)
            entries.append(entry)
            return (entry.model, entry.checksum)
        }
        let model = try store.loadModel(id: id)
        let checksum = model.checksum
        entries.append((id, model, checksum))
        if entries.count > capacity { entries.removeFirst() }
        return (model, checksum)
    }

    /// Adds a model the controller just produced, so serving it costs no disk read.
    func insert(id: String, model: Model) {
        entries.removeAll { $0.id == id }
        entries.append((id, model, model.checksum))
        if entries.count > capacity { entries.removeFirst() }
    }
}
