import Synchronization

/// Bounds the model bytes a server has handed to nng for clients but not yet seen arrive.
///
/// nng copies nothing it is given, but every chunk reply is a message of its own (1.5.2 has
/// no public reference-counted clone for REQ/REP, notes/nng.md §5.3), and it lives until the
/// client's pipe has written it. With N clients fetching at once that was N chunks — at
/// P = 1e6, ten clients' downloads alone held 10× the model in the combiner. Here a reply is
/// counted from the moment it is made until its receipt: the requester's next chunk request
/// (a client fetches one chunk at a time) or its `modelReceived` after the last chunk. A
/// requester that never confirms is forgotten after `expiry`. Past `limit`, `acquire` throws
/// `busy` and the request waits in an `AdmissionGate` (or the client backs off).
public final class DownloadBudget: Sendable {
    private struct Outstanding {
        var bytes: Int
        var since: ContinuousClock.Instant
    }

    private struct State {
        var outstanding: [String: Outstanding] = [:]
        var total = 0
    }

    public let limit: Int
    public let expiry: Duration
    private let state = Mutex(State())
    /// Requests waiting for room; opened whenever room is freed.
    public let room = AdmissionGate(maxWaiters: 8)

    public init(limit: Int, expiry: Duration = .seconds(10)) {
        self.limit = limit
        self.expiry = expiry
    }

    /// Counts a reply of `bytes` for `requester`, first taking its previous reply as received.
    /// One reply always fits when nothing else is outstanding.
    public func acquire(_ requester: String, bytes: Int, now: ContinuousClock.Instant = .now) throws(WireError) {
        let (admitted, freed, others) = state.withLock { s -> (Bool, Bool, Int) in
            var freed = false
            if let previous = s.outstanding.removeValue(forKey: requester) {
                s.total -= previous.bytes
                freed = true
            }
            for (key, entry) in s.outstanding where now - entry.since > expiry {
                s.outstanding[key] = nil
                s.total -= entry.bytes
                freed = true
            }
            guard s.total == 0 || s.total + bytes <= limit else { return (false, freed, s.outstanding.count) }
            s.outstanding[requester] = Outstanding(bytes: bytes, since: now)
            s.total += bytes
            return (true, freed, 0)
        }
        if freed { room.open() }
        guard admitted else { throw WireError(.busy, "\(others) model chunks are on their way to other clients; retry") }
    }

    /// The requester has its last reply.
    public func release(_ requester: String) {
        let freed = state.withLock { s -> Bool in
            guard let previous = s.outstanding.removeValue(forKey: requester) else { return false }
            s.total -= previous.bytes
            return true
        }
        if freed { room.open() }
    }

    /// Bytes counted as on their way now.
    public var outstandingBytes: Int { state.withLock { $0.total } }
}
