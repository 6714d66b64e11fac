/// A counting semaphore for request bodies that carry models: at most `capacity` are read and
/// decoded at once; the rest wait before their bodies are read (Hummingbird applies
/// back-pressure to an unread body, so the sender waits on TCP, not in our memory). Memory for
/// uploads is therefore bounded by `capacity` × (body + decoded model), whatever the number of
/// devices sending at once; folding is one running sum in the cohort anyway.
actor UploadSlots {
    private let capacity: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func withSlot<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if inUse < capacity {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty { inUse -= 1 } else { waiters.removeFirst().resume() }
    }
}
