import Synchronization

/// Lets requests refused with `busy` (no staging room for another multi-chunk upload) wait
/// inside the server until room frees up, instead of each sender backing off blindly and
/// re-sending whole chunks. `open()` wakes every waiter; each then tries again.
public final class AdmissionGate: Sendable {
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])

    public init() {}

    /// Wakes everyone waiting (call when an upload completes or is dropped).
    public func open() {
        let all = waiters.withLock { w -> [CheckedContinuation<Void, Never>] in
            defer { w = [] }
            return w
        }
        for waiter in all { waiter.resume() }
    }

    /// Runs `body`; while it fails with `busy`, waits for `open()` (polling at least every
    /// 50 ms) and tries again, for at most `patience`. Then the `busy` goes to the sender.
    public func admit<T>(patience: Duration = .seconds(10), _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                return try await body()
            } catch let error as WireError where error.code == .busy && ContinuousClock.now < deadline {
                await wait(atMost: min(.milliseconds(50), deadline - .now))
            }
        }
    }

    private func wait(atMost timeout: Duration) async {
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.open()
        }
        await withCheckedContinuation { continuation in waiters.withLock { $0.append(continuation) } }
        timer.cancel()
    }
}
