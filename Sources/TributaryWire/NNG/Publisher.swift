import CNNG

/// PUB side: listens, and publishes small notices to every connected subscriber.
///
/// nng PUB never blocks and never reports loss: a message published before a subscriber's
/// pipe is up, beyond a pipe's send buffer, or right before ``close()`` is silently dropped
/// (nng.md §2, §5.3). Use it for tiny "something changed" notices whose loss the receiver can
/// repair (e.g. by polling over REQ/REP), not for bulk data.
public final class Publisher: Sendable {
    public let socket: Socket
    /// The bound URL, with the real port when listening on port 0.
    public let url: String

    public init(listen url: String, options: SocketOptions = .init()) throws(NNGError) {
        let socket = try Socket(.publish, options: options)
        do {
            self.url = try socket.listen(url)
        } catch {
            socket.close()
            throw error
        }
        self.socket = socket
    }

    deinit {
        close()
    }

    /// Publishes `message` without copying it and without blocking. On success the message is
    /// relinquished to nng; on failure (e.g. ``NNGError/closed``) `message` keeps and later frees it.
    public func publish(_ message: Message) throws(NNGError) {
        guard let ptr = message.pointer else { throw NNGError.invalid }
        try nngCheck(nng_sendmsg(socket.raw, ptr, Int32(NNG_FLAG_NONBLOCK)))
        message.relinquish()
    }

    /// Closes the socket. Idempotent. Messages still queued for subscribers are lost.
    public func close() {
        socket.close()
    }
}
