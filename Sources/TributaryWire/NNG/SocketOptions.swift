import CNNG

/// Options applied to a ``Socket`` before it listens or dials (nng copies socket options onto
/// each new dialer/listener, so they must be set first — nng.md §2).
public struct SocketOptions: Sendable, Equatable {
    /// Default receive limit: a 16 MiB chunk plus header and slack.
    public static let defaultReceiveMaxSize = 17 * 1024 * 1024

    /// `NNG_OPT_RECVMAXSZ`. Always set: nng 1.5.2's default is *unlimited*, which would let one
    /// peer make us allocate any amount. Larger messages are dropped silently and the pipe is
    /// closed; the sender only sees a timeout. 0 means unlimited (avoid).
    public var receiveMaxSize: Int
    /// `NNG_OPT_SENDTIMEO`; nil = infinite. Also the default for ``Context/send(_:timeout:)``.
    public var sendTimeout: Duration?
    /// `NNG_OPT_RECVTIMEO`; nil = infinite. Also the default for ``Context/receive(timeout:)``.
    public var receiveTimeout: Duration?
    /// `NNG_OPT_RECONNMINT`: first reconnect wait of a dialer.
    public var reconnectMin: Duration
    /// `NNG_OPT_RECONNMAXT`: the wait doubles up to this bound.
    public var reconnectMax: Duration
    /// `NNG_OPT_RECVBUF` in messages; nil = nng default (128 for SUB — a memory bomb with big
    /// messages, so ``Subscriber`` uses 2 when this is nil).
    public var receiveBuffer: Int?
    /// `NNG_OPT_SENDBUF` in messages; nil = nng default (16 per pipe for PUB).
    public var sendBuffer: Int?
    /// Mutual TLS for `tls+tcp://` listeners and dialers of this socket (nil: none configured).
    public var tls: TLSIdentity?

    public init(
        receiveMaxSize: Int = SocketOptions.defaultReceiveMaxSize,
        sendTimeout: Duration? = nil,
        receiveTimeout: Duration? = nil,
        reconnectMin: Duration = .milliseconds(100),
        reconnectMax: Duration = .seconds(5),
        receiveBuffer: Int? = nil,
        sendBuffer: Int? = nil,
        tls: TLSIdentity? = nil
    ) {
        self.receiveMaxSize = receiveMaxSize
        self.sendTimeout = sendTimeout
        self.receiveTimeout = receiveTimeout
        self.reconnectMin = reconnectMin
        self.reconnectMax = reconnectMax
        self.receiveBuffer = receiveBuffer
        self.sendBuffer = sendBuffer
        self.tls = tls
    }
}

/// Converts a Swift `Duration` to nng milliseconds.
///
/// nil → `NNG_DURATION_INFINITE`; zero or negative → `NNG_DURATION_ZERO` (fail at once if the
/// operation cannot complete immediately); a positive sub-millisecond remainder is rounded *up*
/// so that a tiny positive timeout never turns into "immediate"; huge values clamp to
/// `Int32.max` ms (~24.8 days).
func nngMilliseconds(_ duration: Duration?) -> nng_duration {
    guard let duration else { return nng_duration(NNG_DURATION_INFINITE) }
    let (seconds, attoseconds) = duration.components
    if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return nng_duration(NNG_DURATION_ZERO) }
    let attoPerMilli: Int64 = 1_000_000_000_000_000
    let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
    if overflow { return nng_duration(Int32.max) }
    var total = ms + attoseconds / attoPerMilli
    if attoseconds % attoPerMilli != 0 { total += 1 }
    return nng_duration(clamping: total)
}
