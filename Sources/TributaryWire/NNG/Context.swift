import CNNG
import Synchronization

/// One `nng_ctx` plus one reusable `nng_aio`, bridged to async/await.
///
/// A context is an independent protocol state machine on a shared socket: a REP socket with N
/// contexts serves N requests concurrently; a REQ socket with N contexts has N requests in
/// flight. Everything is callback driven, so no Swift-pool thread ever blocks in nng
/// (the pool has only 2 threads on our machines — nng.md pitfall 10).
///
/// One operation at a time per context: a second concurrent `send`/`receive` throws
/// ``NNGError/busy``. Cancelling the awaiting task aborts the operation promptly and throws
/// `CancellationError`; closing the context or its socket makes it throw ``NNGError/closed``.
public final class Context: Sendable {
    /// The socket this context belongs to (retained so it outlives the context).
    public let socket: Socket
    private let ctx: nng_ctx
    private let io: AsyncIO
    private let isClosed = Mutex(false)

    public init(_ socket: Socket) throws(NNGError) {
        var ctx = nng_ctx()
        try nngCheck(nng_ctx_open(&ctx, socket.raw))
        do {
            io = try AsyncIO()
        } catch {
            nng_ctx_close(ctx)
            throw error
        }
        self.socket = socket
        self.ctx = ctx
    }

    deinit {
        close()
    }

    /// The underlying nng handle.
    public var raw: nng_ctx { ctx }

    /// Sends `message` without copying it. On success the message is relinquished to nng
    /// (`message` becomes empty); on failure it stays owned by `message`, whose deinit frees it.
    ///
    /// - Parameter timeout: nil uses the socket's ``SocketOptions/sendTimeout`` (nil = infinite).
    public func send(_ message: Message, timeout: Duration? = nil) async throws {
        let ctx = self.ctx
        try await io.send(message, timeout: timeout ?? socket.options.sendTimeout) { aio in
            nng_ctx_send(ctx, aio)
        }
    }

    /// Receives one message (zero-copy; the caller owns the result).
    ///
    /// - Parameter timeout: nil uses the socket's ``SocketOptions/receiveTimeout`` (nil = infinite).
    public func receive(timeout: Duration? = nil) async throws -> Message {
        let ctx = self.ctx
        return try await io.receive(timeout: timeout ?? socket.options.receiveTimeout) { aio in
            nng_ctx_recv(ctx, aio)
        }
    }

    /// Closes the context; a pending operation fails with ``NNGError/closed``. Idempotent.
    /// Does not close the socket.
    public func close() {
        let first = isClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first { nng_ctx_close(ctx) }
    }
}
