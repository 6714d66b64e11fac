import Foundation

/// Typed request/reply over one REQ socket: encodes a frame, waits for the reply with a
/// timeout, turns an `.error` reply into a thrown `WireError`, and checks the reply kind.
public final class PeerConnection: Sendable {
    public let url: String
    /// What is sent with every request: a peer token or certificate proof (nil: nothing).
    public let credential: PeerCredential?
    private let client: RequestClient

    /// `tls`: mutual TLS when `url` is `tls+tcp://`.
    public init(url: String, credential: PeerCredential? = nil, tls: TLSIdentity? = nil) throws {
        self.url = url
        self.credential = credential
        var options = SocketOptions()
        options.receiveMaxSize = FrameLimits.receiveMaxSize
        options.tls = tls
        client = try RequestClient(url: url, options: options)
    }

    public convenience init(url: String, credential: String?) throws {
        try self.init(url: url, credential: PeerCredential(token: credential))
    }

    /// Sends one request and returns the decoded reply frame (alive as long as the caller keeps it).
    /// A `rateLimited` answer is thrown like any other; the callers that repeat requests (the
    /// upload loop, heartbeats) back off before they do.
    public func call<M: Encodable>(
        _ kind: MessageKind, _ metadata: M, payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        expecting replyKind: MessageKind, timeout: Duration
    ) async throws -> Frame {
        try await send(encode(kind, metadata, payload: payload), expecting: replyKind, timeout: timeout)
    }

    /// A request frame carrying this connection's credential.
    public func encode<M: Encodable>(_ kind: MessageKind, _ metadata: M, payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                                     payloadChecksum: UInt64? = nil) throws -> Message {
        try Frame.encode(kind, metadata, payload: payload, auth: credential?.value, payloadChecksum: payloadChecksum)
    }

    /// Sends an already encoded request (built where its payload pointer was valid).
    public func send(_ request: Message, expecting replyKind: MessageKind, timeout: Duration) async throws -> Frame {
        let reply = try await client.request(request, timeout: timeout)
        let frame = try Frame.decode(reply)
        if frame.kind == .error {
            let error = try frame.decodeMetadata(ErrorReply.self)
            throw WireError(error.code, error.message)
        }
        guard frame.kind == replyKind else {
            throw WireError(.unexpectedKind, "expected a \(replyKind) reply, got \(frame.kind)")
        }
        return frame
    }

    /// Like `call`, decoding the reply's metadata as `R`.
    public func call<M: Encodable, R: Decodable>(
        _ kind: MessageKind, _ metadata: M, payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        expecting replyKind: MessageKind, as: R.Type, timeout: Duration
    ) async throws -> R {
        try await call(kind, metadata, payload: payload, expecting: replyKind, timeout: timeout).decodeMetadata(R.self)
    }

    public func close() { client.close() }
}
