import Synchronization
import TributaryWire

/// One PUB subscription per combiner address, shared by the clients of one process (swarm
/// mode). Every `Subscriber` owns an OS thread and a TCP connection; a thousand logical
/// clients in one process need not hold a thousand of each just to learn that "something is
/// waiting". A notice only wakes the clients' heartbeat loops — they still fetch their task
/// over their own REQ sockets — so sharing it changes nothing the combiner can see.
public final class NoticeHub: Sendable {
    private struct Feed {
        var subscriber: Subscriber
        var listeners: [Int: Wakeup]
    }

    private struct State {
        var feeds: [String: Feed] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Registers `wakeup` for notices from `url`, dialing a subscriber if this is the first
    /// listener for it. The returned token undoes it with ``leave(_:url:)``.
    func join(url: String, wakeup: Wakeup, tls: TLSIdentity? = nil) throws -> Int {
        try state.withLock { s throws -> Int in
            let token = s.nextToken
            s.nextToken += 1
            if s.feeds[url] == nil {
                let subscriber = try Subscriber(dial: url, options: SocketOptions(tls: tls))
                s.feeds[url] = Feed(subscriber: subscriber, listeners: [:])
                Task { [weak self] in
                    for await _ in subscriber.messages { self?.notify(url) }
                }
            }
            s.feeds[url]!.listeners[token] = wakeup
            return token
        }
    }

    /// Unregisters a listener; the last one to leave closes the subscription.
    func leave(_ token: Int, url: String) {
        let closing = state.withLock { s -> Subscriber? in
            s.feeds[url]?.listeners[token] = nil
            guard let feed = s.feeds[url], feed.listeners.isEmpty else { return nil }
            s.feeds[url] = nil
            return feed.subscriber
        }
        closing?.close()
    }

    private func notify(_ url: String) {
        let listeners = state.withLock { s in s.feeds[url].map { Array($0.listeners.values) } ?? [] }
        for wakeup in listeners { wakeup.signal() }
    }
}
