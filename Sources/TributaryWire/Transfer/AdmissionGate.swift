import Synchronization

/// Lets requests refused with `busy` (no staging room for another multi-chunk upload) wait
/// inside the server until room frees up, instead of each sender backing off blindly and
/// re-sending whole chunks. `open()` wakes every waiter; each then tries again.
///
/// A waiting request holds one of the server's REP contexts, and the request that would free
/// the room (the next chunk of an admitted upload, a download's receipt) needs one too: with
/// every context waiting, nothing frees room until waits time out (1,000 clients asking for
/// upload slots through 64 contexts made rounds 13× slower). So at most `maxWaiters` wait;
/// beyond them `busy` goes straight back and the sender backs off.
///
/// Every `open()` advances a generation, and a request only goes to sleep if no `open()` came
/// since it was refused: room freed between the refusal and the sleep would otherwise be
/// noticed only at the 50 ms poll — half of a 0.1 s round.
public final class AdmissionGate: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var waiting = 0
    }

    private let state = Mutex(State())
    public let maxWaiters: Int

    public init(maxWaiters: Int = 8) { self.maxWaiters = maxWaiters }

    /// Wakes everyone waiting (call when an upload completes or is dropped).
    public func open() {
        let all = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation &+= 1
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in all { waiter.resume() }
    }

    /// Runs `body`; while it fails with `busy`, waits for `open()` (polling at least every
    /// 50 ms) and tries again, for at most `patience`. Then the `busy` goes to the sender.
    public func admit<T>(patience: Duration = .seconds(10), _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + patience
        var counted = false
        defer { if counted { state.withLock { $0.waiting -= 1 } } }
        while true {
            let seen = state.withLock { $0.generation }
            do {
                return try await body()
            } catch {
                // An exhaustive catch: `catch … where` here crashed Swift 6.3.1's optimizer (notes/nng.md §6).
                guard (error as? WireError)?.code == .busy, ContinuousClock.now < deadline else { throw error }
                if !counted {
                    counted = state.withLock { s in
                        guard s.waiting < maxWaiters else { return false }
                        s.waiting += 1
                        return true
                    }
                    guard counted else { throw error }
                }
                await wait(since: seen, atMost: min(.milliseconds(50), deadline - .now))
            }
        }
    }

    /// Sleeps until the next `open()` — at once if one came after generation `seen`.
    private func wait(since seen: UInt64, atMost timeout: Duration) async {
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.open()
        }
        await withCheckedContinuation { continuation in
            let opened = state.withLock { s -> Bool in
                guard s.generation == seen else { return true }
                s.waiters.append(continuation)
                return false
            }
            if opened { continuation.resume() }
        }
        timer.cancel()
    }
}
