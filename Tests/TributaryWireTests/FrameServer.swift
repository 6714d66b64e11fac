import TributaryWire

/// A REP server on an ephemeral loopback port whose handler works on decoded frames; a thrown
/// `WireError` becomes an `.error` reply, as in the real request handlers.
final class FrameServer: Sendable {
    let url: String
    private let socket: Socket
    private let serving: Task<Void, Never>

    init(concurrency: Int = 2, handler: @escaping @Sendable (Frame) async throws -> Message) throws {
        var options = SocketOptions()
        options.receiveMaxSize = FrameLimits.receiveMaxSize
        socket = try Socket(.reply, options: options)
        url = try socket.listen("tcp://127.0.0.1:0")
        let server = ReplyServer(socket: socket, concurrency: concurrency) { message in
            do {
                return try await handler(try Frame.decode(message))
            } catch let error as WireError {
                return Frame.errorReply(error)!
            } catch {
                return Frame.errorReply(WireError(.internal, "\(error)"))!
            }
        }
        serving = Task { await server.run() }
    }

    func stop() async {
        socket.close()
        await serving.value
    }
}

/// Runs `body` against a `FrameServer` with `handler`, closing both whatever happens.
@discardableResult
func withFrameServer<R>(
    _ handler: @escaping @Sendable (Frame) async throws -> Message, _ body: (PeerConnection) async throws -> R
) async throws -> R {
    let server = try FrameServer(handler: handler)
    let peer = try PeerConnection(url: server.url)
    do {
        let result = try await body(peer)
        peer.close()
        await server.stop()
        return result
    } catch {
        peer.close()
        await server.stop()
        throw error
    }
}
