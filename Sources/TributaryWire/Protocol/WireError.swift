/// What went wrong with a frame or a request. An `ErrorReply` carries `code` and `message` back
/// to the peer, so every rejection is explained on both sides.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable {
        case malformed          // not a valid v1 frame, or bad metadata
        case unsupportedVersion
        case unknownKind
        case tooLarge
        case checksumMismatch
        case unexpectedKind     // a valid frame of a kind this endpoint does not serve
        case unknownJob         // no such job, or the job is closed (late update)
        case notSelected        // the sender is not part of this job
        case duplicate          // this sender already delivered for this job
        case rejected           // the update failed validation (shape, NaN, weight, ...)
        case busy               // no upload slot free now: retry shortly
        case notFound           // unknown model id, client id, ...
        case notRegistered
        case unauthorized       // no, an invalid, expired or another peer's token
        case rateLimited        // the sender exceeded its requests a second: retry later
        case `internal`
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Whether the same request may succeed if sent again later.
    public var isRetryable: Bool { code == .busy || code == .rateLimited }
}
