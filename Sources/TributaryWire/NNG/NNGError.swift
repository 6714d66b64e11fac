import CNNG

/// An nng error code (`nng_errno_enum`), thrown by every wrapper call that talks to nng.
///
/// A plain value type (not an enum) because nng also returns OR-ed system and transport errors
/// (`NNG_ESYSERR | errno`, `NNG_ETRANERR | n`) that a closed Swift enum could not represent.
/// Compare against the static constants: `if error == .timedOut { … }`.
///
/// Note (nng.md §6.6): with Swift 6.3.1, do not write a non-exhaustive `catch where error == …`
/// after a `do` block that calls a `throws(NNGError)` function and mutates a local `var`: the
/// compiler crashes. Use `catch { if error == .timedOut { … }; throw error }` instead.
public struct NNGError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The raw nng error number.
    public let code: Int32

    public init(_ code: Int32) {
        self.code = code
    }

    init(_ errno: nng_errno_enum) {
        self.code = Int32(bitPattern: UInt32(errno.rawValue))
    }

    public static let interrupted = NNGError(NNG_EINTR)
    public static let noMemory = NNGError(NNG_ENOMEM)
    public static let invalid = NNGError(NNG_EINVAL)
    /// Also thrown by ``Context`` when a second operation is started while one is in flight.
    public static let busy = NNGError(NNG_EBUSY)
    public static let timedOut = NNGError(NNG_ETIMEDOUT)
    public static let connectionRefused = NNGError(NNG_ECONNREFUSED)
    public static let closed = NNGError(NNG_ECLOSED)
    public static let again = NNGError(NNG_EAGAIN)
    public static let notSupported = NNGError(NNG_ENOTSUP)
    public static let addressInUse = NNGError(NNG_EADDRINUSE)
    /// Protocol state error, e.g. receiving on a REQ context without a request sent first.
    public static let state = NNGError(NNG_ESTATE)
    public static let notFound = NNGError(NNG_ENOENT)
    public static let protocolError = NNGError(NNG_EPROTO)
    public static let unreachable = NNGError(NNG_EUNREACHABLE)
    public static let addressInvalid = NNGError(NNG_EADDRINVAL)
    public static let permission = NNGError(NNG_EPERM)
    public static let messageTooLarge = NNGError(NNG_EMSGSIZE)
    public static let connectionAborted = NNGError(NNG_ECONNABORTED)
    public static let connectionReset = NNGError(NNG_ECONNRESET)
    /// The nng operation was aborted. A cancelled Swift *task* surfaces as `CancellationError`
    /// instead (see ``Context``); this code appears only when nng itself cancels an operation.
    public static let canceled = NNGError(NNG_ECANCELED)
    public static let noFiles = NNGError(NNG_ENOFILES)
    public static let noSpace = NNGError(NNG_ENOSPC)
    public static let exists = NNGError(NNG_EEXIST)
    public static let readOnly = NNGError(NNG_EREADONLY)
    public static let writeOnly = NNGError(NNG_EWRITEONLY)
    public static let crypto = NNGError(NNG_ECRYPTO)
    public static let peerAuthentication = NNGError(NNG_EPEERAUTH)
    public static let noArgument = NNGError(NNG_ENOARG)
    public static let ambiguous = NNGError(NNG_EAMBIGUOUS)
    public static let badType = NNGError(NNG_EBADTYPE)
    public static let connectionShutdown = NNGError(NNG_ECONNSHUT)
    public static let `internal` = NNGError(NNG_EINTERNAL)

    /// `nng_strerror` text plus the numeric code, e.g. `Timed out (nng error 5)`.
    public var description: String {
        "\(String(cString: nng_strerror(code))) (nng error \(code))"
    }
}

/// Turns an nng return value into a typed throw. nng returns 0 on success.
@inline(__always)
func nngCheck(_ rv: Int32) throws(NNGError) {
    if rv != 0 { throw NNGError(rv) }
}
