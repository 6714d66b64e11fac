import Synchronization
import Testing
@testable import TributaryWire

/// Helpers shared by the NNG tests.
enum NNGTest {
    static let loopback = "tcp://127.0.0.1:0"

    /// A REP socket listening on an ephemeral loopback port, with its bound URL.
    static func replySocket(_ options: SocketOptions = .init()) throws -> (Socket, String) {
        let socket = try Socket(.reply, options: options)
        let url = try socket.listen(loopback)
        return (socket, url)
    }

    /// A loopback URL whose port nobody listens on (bound once, then released).
    static func unusedURL() throws -> String {
        let (socket, url) = try replySocket()
        socket.close()
        return url
    }

    static func message(_ value: UInt32, size: Int = 4) throws -> Message {
        let message = try Message(capacity: max(size, 4))
        message.body.storeBytes(of: value.littleEndian, as: UInt32.self)
        return message
    }

    static func value(of message: Message) -> UInt32 {
        UInt32(littleEndian: message.body.loadUnaligned(as: UInt32.self))
    }
}

/// A thread-safe counter/maximum tracker for handlers.
final class Gauge: Sendable {
    private let state = Mutex((current: 0, max: 0, total: 0))

    func enter() {
        state.withLock { s in
            s.current += 1
            s.total += 1
            s.max = Swift.max(s.max, s.current)
        }
    }

    func leave() { state.withLock { $0.current -= 1 } }
    var maximum: Int { state.withLock { $0.max } }
    var total: Int { state.withLock { $0.total } }
}
