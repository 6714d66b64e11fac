import Foundation

/// Counts requests per key in fixed windows — the rate limits of the HTTP dialects (the FL
/// Framework API's per-client buckets, the device API's per-device limit) share this core.
actor FixedWindowLimiter {
    struct Decision: Sendable {
        var allowed: Bool
        var limit: Int
        var remaining: Int
        var reset: Date

        /// Whole seconds until the window resets (at least 1), for `Retry-After`.
        var retryAfter: Int { max(1, Int(reset.timeIntervalSinceNow.rounded(.up))) }
    }

    private struct Window { var start: Date; var count: Int }
    private var windows: [String: Window] = [:]

    /// Counts one request of `key` against `limit` per `seconds`.
    func take(_ key: String, limit: Int, seconds: TimeInterval, now: Date = Date()) -> Decision {
        var window = windows[key] ?? Window(start: now, count: 0)
        if now.timeIntervalSince(window.start) >= seconds { window = Window(start: now, count: 0) }
        let allowed = window.count < limit
        if allowed { window.count += 1 }
        windows[key] = window
        // Bounded memory under many identities: forget windows older than an hour.
        if windows.count > 100_000 { windows = windows.filter { now.timeIntervalSince($0.value.start) < 3600 } }
        return Decision(allowed: allowed, limit: limit, remaining: max(0, limit - window.count), reset: window.start.addingTimeInterval(seconds))
    }
}
