import CNNG
import Synchronization

/// The scalability protocols Tributary uses.
public enum SocketProtocol: Sendable {
    case request, reply, publish, subscribe
}

/// One nng socket with Tributary's option policy applied at open time.
///
/// `nng_socket` is a struct holding a `uint32` id, so the handle is freely `Sendable`; the only
/// mutable state is the closed flag, kept in a `Mutex` so that ``close()`` is idempotent (nng
/// may reuse ids, so a second `nng_close` must never reach a different socket).
public final class Socket: Sendable {
    /// The protocol this socket was opened with.
    public let proto: SocketProtocol
    /// The options applied at open time; ``Context`` uses the timeouts as its defaults.
    public let options: SocketOptions
    private let handle: nng_socket
    private let isClosed = Mutex(false)

    /// Opens the socket and applies `options`. REQ sockets get `NNG_OPT_REQ_RESENDTIME` =
    /// infinite (nng would otherwise silently re-send whole requests after 60 s or a reconnect;
    /// applications retry with idempotent ids instead). SUB sockets subscribe to everything
    /// (`""`), because the message kind lives in our own header.
    public init(_ proto: SocketProtocol, options: SocketOptions = .init()) throws(NNGError) {
        var sock = nng_socket()
        switch proto {
        case .request: try nngCheck(nng_req0_open(&sock))
        case .reply: try nngCheck(nng_rep0_open(&sock))
        case .publish: try nngCheck(nng_pub0_open(&sock))
        case .subscribe: try nngCheck(nng_sub0_open(&sock))
        }
        do {
            try Socket.apply(options, proto: proto, to: sock)
        } catch {
            nng_close(sock)
            throw error
        }
        self.proto = proto
        self.options = options
        self.handle = sock
    }

    deinit {
        close()
    }

    /// The underlying nng handle, for calls this wrapper does not cover.
    public var raw: nng_socket { handle }

    /// Starts a listener and returns the URL it is bound to. For TCP/WebSocket URLs with port 0
    /// the returned URL carries the port the OS actually chose (`NNG_OPT_LOCADDR`), so
    /// `"tcp://127.0.0.1:0"` yields e.g. `"tcp://127.0.0.1:40123"`; other URLs come back as given.
    ///
    /// A `tls+tcp://` listener needs ``SocketOptions/tls`` with a certificate (``NNGError/invalid``
    /// otherwise) and requires one from every dialer.
    @discardableResult
    public func listen(_ url: String) throws(NNGError) -> String {
        var listener = nng_listener()
        if TLSIdentity.isTLS(url) {
            guard let tls = options.tls, tls.certificatePEM != nil else { throw NNGError.invalid }
            try nngCheck(nng_listener_create(&listener, handle, url))
            do {
                let config = try tls.makeConfig(server: true, url: url)
                defer { nng_tls_config_free(config) }   // the listener holds its own reference
                try nngCheck(nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(config)))
                try nngCheck(nng_listener_start(listener, 0))
            } catch {
                nng_listener_close(listener)
                throw error
            }
        } else {
            try nngCheck(nng_listen(handle, url, &listener, 0))
        }
        var addr = nng_sockaddr()
        guard nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &addr) == 0 else { return url }
        let family = Int(addr.s_family)
        guard family == Int(NNG_AF_INET.rawValue) || family == Int(NNG_AF_INET6.rawValue) else { return url }
        // s_in and s_in6 share the (family, port) prefix; the port is in network byte order.
        let port = UInt16(bigEndian: addr.s_in.sa_port)
        return URLPort.replacingPort(in: url, with: port) ?? url
    }

    /// Starts a dialer without waiting for the connection (`NNG_FLAG_NONBLOCK`): nng keeps
    /// retrying in the background with the socket's reconnect back-off, so a client may start
    /// before its server. Fails only for bad URLs or a closed socket.
    /// A `tls+tcp://` dialer verifies the listener's certificate with ``SocketOptions/tls`` (and
    /// presents its own when it has one); without it, nng's defaults verify against nothing and
    /// every handshake fails.
    public func dial(_ url: String) throws(NNGError) {
        var dialer = nng_dialer()
        if TLSIdentity.isTLS(url), let tls = options.tls {
            try nngCheck(nng_dialer_create(&dialer, handle, url))
            do {
                let config = try tls.makeConfig(server: false, url: url)
                defer { nng_tls_config_free(config) }   // the dialer holds its own reference
                try nngCheck(nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(config)))
                try nngCheck(nng_dialer_start(dialer, Int32(NNG_FLAG_NONBLOCK)))
            } catch {
                nng_dialer_close(dialer)
                throw error
            }
        } else {
            try nngCheck(nng_dial(handle, url, &dialer, Int32(NNG_FLAG_NONBLOCK)))
        }
    }

    /// Closes the socket; pending operations on it and its contexts fail with ``NNGError/closed``.
    /// Idempotent and safe to call from any thread.
    public func close() {
        let first = isClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first { nng_close(handle) }
    }

    /// Whether ``close()`` has been called.
    public var closed: Bool { isClosed.withLock { $0 } }

    private static func apply(_ o: SocketOptions, proto: SocketProtocol, to sock: nng_socket) throws(NNGError) {
        try nngCheck(nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, max(0, o.receiveMaxSize)))
        try nngCheck(nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, nngMilliseconds(o.reconnectMin)))
        try nngCheck(nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, nngMilliseconds(o.reconnectMax)))
        // PUB cannot receive and SUB cannot send: nng rejects the matching timeout/buffer options.
        if proto != .publish {
            try nngCheck(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, nngMilliseconds(o.receiveTimeout)))
            if let n = o.receiveBuffer { try nngCheck(nng_socket_set_int(sock, NNG_OPT_RECVBUF, Int32(clamping: n))) }
        }
        if proto != .subscribe {
            try nngCheck(nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, nngMilliseconds(o.sendTimeout)))
            if let n = o.sendBuffer { try nngCheck(nng_socket_set_int(sock, NNG_OPT_SENDBUF, Int32(clamping: n))) }
        }
        switch proto {
        case .request:
            try nngCheck(nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, nng_duration(NNG_DURATION_INFINITE)))
        case .subscribe:
            // An empty prefix matches every message; without a subscription SUB receives nothing.
            try nngCheck(nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0))
        case .reply, .publish:
            break
        }
    }
}

/// Rewrites the port of a `scheme://host:port[/path]` URL (IPv6 hosts in brackets).
enum URLPort {
    static func replacingPort(in url: String, with port: UInt16) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound]
        guard scheme.hasPrefix("tcp") || scheme.hasPrefix("tls+tcp") || scheme.hasPrefix("ws") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        // The port separator is the last ':' after any closing ']' of an IPv6 literal.
        let searchStart = authority.lastIndex(of: "]").map { authority.index(after: $0) } ?? authority.startIndex
        let host: Substring
        if let colon = authority[searchStart...].lastIndex(of: ":") {
            host = authority[..<colon]
        } else {
            host = authority
        }
        return "\(scheme)://\(host):\(port)\(path)"
    }
}
