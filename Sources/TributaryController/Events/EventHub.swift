import Foundation
import Synchronization

/// Live events of the network (`client_update`, `training_progress`, `round_completed`,
/// `session_completed`, `combiner_joined`, …) fanned out to every `/ws/events` subscriber as
/// JSON text, in the order they happened. A slow subscriber loses its oldest events rather
/// than holding memory or the publisher back.
public final class EventHub: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<String>.Continuation]>([:])
    private static let bufferLimit = 1024

    public init() {}

    /// A stream of events from now on; it ends when `cancel` runs or the hub is gone.
    func subscribe() -> (id: UUID, events: AsyncStream<String>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferLimit))
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in self?.cancel(id) }
        return (id, stream)
    }

    func cancel(_ id: UUID) {
        _ = subscribers.withLock { $0.removeValue(forKey: id) }
    }

    var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Publishes `{"type": type, "timestamp": now, ...fields}`. Encoding happens here, once,
    /// and under the lock, so every subscriber sees events in publish order.
    func publish(_ type: String, _ fields: [String: any Sendable]) {
        var object: [String: Any] = fields
        object["type"] = type
        object["timestamp"] = ISO8601DateFormatter().string(from: Date())
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        let text = String(decoding: data, as: UTF8.self)
        subscribers.withLock { subs in
            for continuation in subs.values { continuation.yield(text) }
        }
    }
}
