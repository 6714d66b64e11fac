/// Retries a request that the server refused for now (`WireError.isRetryable`: `busy` — no
/// room in a budget — or `rate_limited`), the one back-off loop of the transfers.
enum RetryWhileRefused {
    /// Runs `body` until it succeeds. A retryable refusal is tried again after a back-off that
    /// doubles from `initial` up to `cap`, scaled by a random factor from `jitter` (so that many
    /// clients refused at once do not come back at once), as long as the next attempt starts
    /// before `deadline`; any other error, or a refusal past it, is thrown.
    static func run<T>(from initial: Duration, cap: Duration, jitter: ClosedRange<Double> = 0.5...1.5,
                       until deadline: ContinuousClock.Instant, _ body: () async throws -> T) async throws -> T {
        var backoff = initial
        while true {
            do {
                return try await body()
            } catch {
                // An exhaustive catch: `catch … where` crashed Swift 6.3.1's optimizer (notes/nng.md §6).
                guard (error as? WireError)?.isRetryable == true, ContinuousClock.now + backoff < deadline else { throw error }
                try await Task.sleep(for: backoff * Double.random(in: jitter))
                backoff = min(backoff * 2, cap)
            }
        }
    }
}
