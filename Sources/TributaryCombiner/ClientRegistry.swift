/// The clients attached to this combiner and when each last heartbeated. A client is online
/// while its last heartbeat is at most two intervals old (stale after 2 missed, offline
/// after 5, as for combiners at the controller). The interval is the controller's, stretched
/// so that all clients together send at most `maxHeartbeatsPerSecond`: with 5,000 clients a
/// 1 s interval would be 5,000 requests a second, which starve the round's own traffic on a
/// small machine (measured: 10,000 clients on 2 cores went "offline" mid-round).
struct ClientRegistry {
    static let maxHeartbeatsPerSecond = 1000.0

    struct Entry {
        var name: String
        var lastSeen: ContinuousClock.Instant
    }

    private(set) var entries: [String: Entry] = [:]
    /// The controller's interval, the floor of the one clients are asked for.
    var baseInterval: Duration

    init(heartbeatInterval: Duration) {
        self.baseInterval = heartbeatInterval
    }

    /// The interval clients are asked to keep now (at most 30 s).
    var heartbeatInterval: Duration {
        let spread = Duration.milliseconds(Int64(Double(entries.count) / Self.maxHeartbeatsPerSecond * 1000))
        return min(max(baseInterval, spread), .seconds(30))
    }

    /// Idempotent: a restarted client with the same id takes its old place.
    mutating func register(id: String, name: String, now: ContinuousClock.Instant = .now) {
        entries[id] = Entry(name: name, lastSeen: now)
    }

    /// Returns false for an unknown client (it must register).
    mutating func heartbeat(id: String, now: ContinuousClock.Instant = .now) -> Bool {
        guard entries[id] != nil else { return false }
        entries[id]!.lastSeen = now
        return true
    }

    func online(now: ContinuousClock.Instant = .now) -> [String] {
        entries.filter { now - $0.value.lastSeen <= heartbeatInterval * 2 }.keys.sorted()
    }

    /// Clients that missed 2 heartbeats but not yet 5.
    func stale(now: ContinuousClock.Instant = .now) -> [String] {
        entries.filter { now - $0.value.lastSeen > heartbeatInterval * 2 }.keys.sorted()
    }

    /// Forgets clients silent for 5 intervals; returns their ids.
    mutating func dropOffline(now: ContinuousClock.Instant = .now) -> [String] {
        let gone = entries.filter { now - $0.value.lastSeen > heartbeatInterval * 5 }.map(\.key)
        for id in gone { entries[id] = nil }
        return gone
    }
}
