import Foundation

/// Requests per peer on one nng endpoint: a token bucket per peer that refills `rate` a second
/// up to `burst`. A peer past it is refused at once with `rateLimited` — the server never holds a
/// reply context for a flooder, so other peers keep being served — and honest peers back off
/// and retry (`PeerConnection`), which is what slows a flooder down.
public struct PeerRateLimit: Sendable, Equatable {
    public var rate: Double
    public var burst: Double

    public init(perSecond rate: Double, burst: Double? = nil) {
        self.rate = max(rate, 0.001)
        self.burst = max(burst ?? 2 * rate, 1)
    }
}

/// The buckets of one endpoint, by peer name.
struct PeerBuckets {
    let limit: PeerRateLimit
    private var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]
    /// When each limited peer was last reported, so a flood is one status a minute per peer.
    private var reported: [String: ContinuousClock.Instant] = [:]

    init(limit: PeerRateLimit) { self.limit = limit }

    /// Takes one token of `peer`; nil when it had one, else the seconds until it will.
    mutating func take(_ peer: String, now: ContinuousClock.Instant = .now) -> Double? {
        if buckets.count > 100_000 { buckets.removeAll(keepingCapacity: true) }   // bounded whatever the names
        var bucket = buckets[peer] ?? (limit.burst, now)
        let elapsed = now - bucket.at
        bucket.tokens = min(limit.burst, bucket.tokens + limit.rate * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
        bucket.at = now
        defer { buckets[peer] = bucket }
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            return nil
        }
        return (1 - bucket.tokens) / limit.rate
    }

    /// Whether a refusal of `peer` should be reported now (the first in a minute).
    mutating func shouldReport(_ peer: String, now: ContinuousClock.Instant = .now) -> Bool {
        if let last = reported[peer], now - last < .seconds(60) { return false }
        if reported.count > 10_000 { reported.removeAll(keepingCapacity: true) }
        reported[peer] = now
        return true
    }
}
