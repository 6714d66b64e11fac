import CNNG
import Synchronization

/// One reusable `nng_aio` bridged to async/await: at most one operation in flight at a time.
///
/// Life cycle of an operation (all transitions under `state`'s lock):
/// 1. `perform` marks the aio busy, clears the per-operation cancel flag (nng.md pitfall 11: a
///    stale flag made the next operation fail at once) and parks a continuation.
/// 2. nng completes the aio on one of its threads and calls `complete()`, which takes the
///    continuation out of the state *exactly once* and resumes it. Received messages are wrapped
///    in a ``Message`` inside the callback, so a message that nobody awaits any more is still freed.
/// 3. Task cancellation sets the flag and calls `nng_aio_cancel`; nng then completes the
///    operation with `NNG_ECANCELED` through the same callback (one resume, never two).
///
/// The callback borrows `self` without retaining it (`_withUnsafeGuaranteedRef`), so the last
/// release — and thus `deinit`'s `nng_aio_free` — can never run inside the aio's own callback,
/// which would deadlock (pitfall 11). `nng_aio_free` on another thread waits for a running
/// callback to return, so the object outlives its callback.
final class AsyncIO: @unchecked Sendable {
    enum Kind { case send, receive }

    private struct State {
        var continuation: CheckedContinuation<Message?, any Error>?
        var kind: Kind = .receive
        var busy = false
        var cancelled = false
    }

    private let state = Mutex(State())
    /// Written once in `init`, then only read; nng serialises its own use of the aio.
    private var aio: OpaquePointer?

    init() throws(NNGError) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        try nngCheck(nng_aio_alloc(&aio, { arg in
            guard let arg else { return }
            Unmanaged<AsyncIO>.fromOpaque(arg)._withUnsafeGuaranteedRef { $0.complete() }
        }, me))
    }

    deinit {
        // No operation can be in flight: an awaiting task holds a strong reference.
        if let aio { nng_aio_free(aio) }
    }

    /// Sends `message` through `start` (e.g. `nng_ctx_send`). On success nng owns the message
    /// and `message` is relinquished; on failure `message` still owns it (its deinit frees it).
    func send(_ message: Message, timeout: Duration?, start: (OpaquePointer) -> Void) async throws {
        guard let ptr = message.pointer else { throw NNGError.invalid }
        _ = try await perform(.send, timeout: timeout) { aio in
            nng_aio_set_msg(aio, ptr)
            start(aio)
        }
        message.relinquish()
    }

    /// Receives one message through `start` (e.g. `nng_ctx_recv`).
    func receive(timeout: Duration?, start: (OpaquePointer) -> Void) async throws -> Message {
        guard let message = try await perform(.receive, timeout: timeout, start: start) else {
            throw NNGError.internal   // nng reported success without a message: should not happen
        }
        return message
    }

    private func perform(
        _ kind: Kind, timeout: Duration?, start: (OpaquePointer) -> Void
    ) async throws -> Message? {
        guard let aio else { throw NNGError.noMemory }
        try Task.checkCancellation()
        try state.withLock { s throws(NNGError) in
            if s.busy { throw NNGError.busy }
            s.busy = true
            s.cancelled = false
            s.kind = kind
        }
        defer { state.withLock { $0.busy = false } }
        nng_aio_set_timeout(aio, nngMilliseconds(timeout))

        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Message?, any Error>) in
                let go = state.withLock { s in
                    if s.cancelled { return false }
                    s.continuation = c
                    return true
                }
                guard go else {
                    c.resume(throwing: CancellationError())
                    return
                }
                start(aio)
                // Cancellation that raced with `start` found no operation to abort: abort now.
                if state.withLock({ $0.cancelled }) { nng_aio_cancel(aio) }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Task-cancellation handler: flag first (covers an operation not yet started), then abort
    /// whatever is in flight (a no-op on an idle aio).
    private func cancel() {
        state.withLock { $0.cancelled = true }
        if let aio { nng_aio_cancel(aio) }
    }

    /// The aio callback (runs on an nng thread). Never blocks, never frees the aio.
    private func complete() {
        guard let aio else { return }
        let rv = nng_aio_result(aio)
        let (continuation, kind, cancelled) = state.withLock { s in
            defer { s.continuation = nil }
            return (s.continuation, s.kind, s.cancelled)
        }
        let result: Result<Message?, any Error>
        switch (kind, rv) {
        case (.receive, 0):
            let msg = nng_aio_get_msg(aio)
            nng_aio_set_msg(aio, nil)
            result = .success(msg.map { Message(taking: $0) })
        case (.send, 0):
            nng_aio_set_msg(aio, nil)   // nng owns it now
            result = .success(nil)
        case (.send, _):
            nng_aio_set_msg(aio, nil)   // still owned by the caller's Message
            result = .failure(Self.error(rv, cancelled: cancelled))
        case (.receive, _):
            result = .failure(Self.error(rv, cancelled: cancelled))
        }
        continuation?.resume(with: result)
    }

    private static func error(_ rv: Int32, cancelled: Bool) -> any Error {
        let error = NNGError(rv)
        return (cancelled && error == .canceled) ? CancellationError() : error
    }
}
