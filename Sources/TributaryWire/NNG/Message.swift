import CNNG

/// Owns exactly one `nng_msg` and frees it on deinit unless ownership was handed to nng.
///
/// Why a class: messages must cross `CheckedContinuation` and `AsyncStream`, which (in Swift 6.3)
/// cannot carry `~Copyable` types (nng.md §3(b)). The class is `@unchecked Sendable` on the
/// contract that it has a *single owner at a time*: one task/thread fills or reads it, then hands
/// the whole object on (to a send, a continuation, a stream). Nothing here is locked.
///
/// The body is a zero-copy view of nng's buffer. On REQ/REP receive it is only 4-byte aligned
/// (nng.md §3(a)), so read wide values with `loadUnaligned`.
public final class Message: @unchecked Sendable {
    /// The owned `nng_msg*`, or nil once relinquished.
    private(set) var pointer: OpaquePointer?

    /// Allocates a message whose body is `capacity` bytes long (uninitialised; the caller fills
    /// ``body`` in place, then sends without a copy).
    public init(capacity: Int) throws(NNGError) {
        precondition(capacity >= 0, "Message capacity must not be negative")
        var msg: OpaquePointer?
        try nngCheck(nng_msg_alloc(&msg, capacity))
        pointer = msg
    }

    /// Adopts a message that nng handed to us (e.g. from `nng_recvmsg` or `nng_aio_get_msg`).
    public init(taking msg: OpaquePointer) {
        pointer = msg
    }

    /// Allocates a message and copies `bytes` into its body.
    public convenience init(bytes: UnsafeRawBufferPointer) throws(NNGError) {
        try self.init(capacity: bytes.count)
        if let src = bytes.baseAddress, bytes.count > 0 {
            body.baseAddress!.copyMemory(from: src, byteCount: bytes.count)
        }
    }

    /// Allocates a message and copies `bytes` into its body (convenience for small messages).
    public convenience init(_ bytes: some Collection<UInt8>) throws(NNGError) {
        try self.init(capacity: bytes.count)
        body.copyBytes(from: bytes)
    }

    deinit {
        if let pointer { nng_msg_free(pointer) }
    }

    /// Body length in bytes (0 once relinquished).
    public var count: Int {
        guard let pointer else { return 0 }
        return nng_msg_len(pointer)
    }

    /// Zero-copy view of the body. Valid only while this object owns the message; empty after
    /// ``relinquish()``. Do not keep it beyond the message's lifetime.
    public var body: UnsafeMutableRawBufferPointer {
        guard let pointer else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return UnsafeMutableRawBufferPointer(start: nng_msg_body(pointer), count: nng_msg_len(pointer))
    }

    /// A copy of the body as an array. For tests and small control messages only.
    public var bytes: [UInt8] {
        Array(UnsafeRawBufferPointer(body))
    }

    /// Gives up ownership and returns the pointer (nil if already relinquished). Call this only
    /// after nng has accepted the message (a successful send); afterwards this object is empty.
    @discardableResult
    public func relinquish() -> OpaquePointer? {
        defer { pointer = nil }
        return pointer
    }
}
