import CNNG
import Synchronization

/// SUB side: dials a publisher and delivers every message on ``messages``.
///
/// A dedicated nng thread (`nng_thread_create`, not the 2-thread Swift pool) loops on blocking
/// `nng_recvmsg` and yields into an `AsyncStream` that keeps only the newest 16 messages; older
/// ones are dropped (and freed) if the consumer falls behind. Together with the small nng
/// receive buffer (default 2 here, nng's own default of 128 is a memory bomb with big messages)
/// this bounds memory no matter how slow the consumer is. PUB/SUB loses messages silently, so
/// consumers must tolerate gaps.
public final class Subscriber: Sendable {
    /// nng receive buffer used when ``SocketOptions/receiveBuffer`` is nil.
    public static let defaultReceiveBuffer = 2
    /// How many undelivered messages the stream holds before dropping the oldest.
    public static let streamBuffer = 16

    public let socket: Socket
    /// The received messages, in order. Single consumer: iterate it from one task only. Ends
    /// after ``close()``; cancelling the iterating task also closes the subscriber.
    public let messages: AsyncStream<Message>
    private let continuation: AsyncStream<Message>.Continuation
    private let thread: Mutex<ThreadHandle?>

    public init(dial url: String, options: SocketOptions = .init()) throws(NNGError) {
        var options = options
        if options.receiveBuffer == nil { options.receiveBuffer = Self.defaultReceiveBuffer }
        let socket = try Socket(.subscribe, options: options)
        let (stream, continuation) = AsyncStream<Message>.makeStream(
            bufferingPolicy: .bufferingNewest(Self.streamBuffer))
        do {
            try socket.dial(url)
        } catch {
            socket.close()
            throw error
        }
        let loop = ReceiveLoop(socket: socket, continuation: continuation)
        let arg = Unmanaged.passRetained(loop).toOpaque()
        var handle: OpaquePointer?
        let rv = nng_thread_create(&handle, { arg in
            guard let arg else { return }
            Unmanaged<ReceiveLoop>.fromOpaque(arg).takeRetainedValue().run()
        }, arg)
        guard rv == 0, let handle else {
            Unmanaged<ReceiveLoop>.fromOpaque(arg).release()
            socket.close()
            continuation.finish()
            throw NNGError(rv == 0 ? Int32(NNG_ENOMEM.rawValue) : rv)
        }
        continuation.onTermination = { @Sendable _ in socket.close() }
        self.socket = socket
        self.messages = stream
        self.continuation = continuation
        self.thread = Mutex(ThreadHandle(pointer: handle))
    }

    deinit {
        close()
    }

    /// Closes the socket, ends ``messages`` (buffered messages can still be read) and joins the
    /// receive thread, which exits as soon as its blocking receive fails with `closed`.
    /// Idempotent.
    public func close() {
        socket.close()
        continuation.finish()
        if let handle = thread.withLock({ t in defer { t = nil }; return t }) {
            nng_thread_destroy(handle.pointer)   // joins; returns promptly once the socket is closed
        }
    }
}

/// An `nng_thread*`; only touched under the owning Mutex, and destroyed exactly once.
private struct ThreadHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// State owned by the receive thread. The thread holds the only retain and drops it on exit.
private final class ReceiveLoop: @unchecked Sendable {
    let socket: Socket
    let continuation: AsyncStream<Message>.Continuation

    init(socket: Socket, continuation: AsyncStream<Message>.Continuation) {
        self.socket = socket
        self.continuation = continuation
    }

    func run() {
        defer { continuation.finish() }
        while true {
            var msg: OpaquePointer?
            let rv = nng_recvmsg(socket.raw, &msg, 0)
            if rv == 0, let msg {
                // A dropped message (buffer full) is freed by Message's deinit.
                if case .terminated = continuation.yield(Message(taking: msg)) { return }
                continue
            }
            let error = NNGError(rv)
            // Timeouts only occur if the caller set a receive timeout: keep waiting.
            if error == .timedOut || error == .again || error == .interrupted { continue }
            return   // closed, or an unexpected error: end the stream
        }
    }
}
