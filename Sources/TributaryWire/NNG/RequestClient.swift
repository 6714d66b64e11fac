import CNNG
import Synchronization

/// REQ side of a request/reply channel: one REQ socket dialed (non-blocking, with reconnect
/// back-off) to `url`, and one context per in-flight request so that many requests can be
/// outstanding at once on one connection.
///
/// Contexts come from a small pool: a context that completed a round trip is reused; one whose
/// request failed (timeout, cancellation, reset) is closed, so no half-finished REQ state leaks
/// into the next request. nng never re-sends (`REQ_RESENDTIME` is infinite); retrying with an
/// idempotent request id is the caller's job.
public final class RequestClient: Sendable {
    /// Contexts kept for reuse; more may be open while many requests are in flight.
    public static let maxPooledContexts = 16

    public let url: String
    public let socket: Socket
    private let pool = Mutex<[Context]>([])

    public init(url: String, options: SocketOptions = .init()) throws(NNGError) {
        let socket = try Socket(.request, options: options)
        do {
            try socket.dial(url)
        } catch {
            socket.close()
            throw error
        }
        self.url = url
        self.socket = socket
    }

    deinit {
        close()
    }

    /// Sends `message` and awaits the reply.
    ///
    /// `timeout` bounds the whole round trip (waiting for a connection, sending, and the reply).
    /// Throws ``NNGError/timedOut`` when it expires, `CancellationError` when the task is
    /// cancelled, ``NNGError/closed`` after ``close()``, and other ``NNGError``s (e.g.
    /// ``NNGError/connectionReset`` if the connection drops mid-request). On success `message`
    /// has been relinquished to nng; on failure it still owns its bytes, so it can be retried.
    public func request(_ message: Message, timeout: Duration) async throws -> Message {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        let context = try checkOut()
        do {
            try await context.send(message, timeout: timeout)
            let remaining = deadline - clock.now
            guard remaining > .zero else { throw NNGError.timedOut }
            let reply = try await context.receive(timeout: remaining)
            checkIn(context)
            return reply
        } catch {
            context.close()
            throw error
        }
    }

    /// Closes the socket: in-flight requests fail with ``NNGError/closed``. Idempotent.
    public func close() {
        socket.close()
        let contexts = pool.withLock { pool in
            defer { pool.removeAll() }
            return pool
        }
        for context in contexts { context.close() }
    }

    private func checkOut() throws(NNGError) -> Context {
        if let context = pool.withLock({ $0.popLast() }) { return context }
        return try Context(socket)
    }

    private func checkIn(_ context: Context) {
        let kept = pool.withLock { pool in
            guard !socket.closed, pool.count < Self.maxPooledContexts else { return false }
            pool.append(context)
            return true
        }
        if !kept { context.close() }
    }
}
