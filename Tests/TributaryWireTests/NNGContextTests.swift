import Testing
@testable import TributaryWire

@Suite("NNG context", .timeLimit(.minutes(1)))
struct NNGContextTests {
    @Test func cancellingPendingReceiveThrowsAndContextStaysUsable() async throws {
        let (socket, url) = try NNGTest.replySocket()
        defer { socket.close() }
        let context = try Context(socket)

        let pending = Task { try await context.receive() }
        try await Task.sleep(for: .milliseconds(50))
        pending.cancel()
        await #expect(throws: CancellationError.self) { _ = try await pending.value }

        // The cancel flag is per operation: the next receive on the same context works.
        let client = try RequestClient(url: url)
        defer { client.close() }
        let asking = Task { try await client.request(NNGTest.message(9), timeout: .seconds(10)) }
        let request = try await context.receive(timeout: .seconds(10))
        #expect(NNGTest.value(of: request) == 9)
        try await context.send(request)
        let reply = try await asking.value
        #expect(NNGTest.value(of: reply) == 9)
    }

    @Test func receiveInAlreadyCancelledTaskThrows() async throws {
        let (socket, _) = try NNGTest.replySocket()
        defer { socket.close() }
        let context = try Context(socket)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await context.receive()
        }
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }

    @Test func receiveTimesOut() async throws {
        let (socket, _) = try NNGTest.replySocket()
        defer { socket.close() }
        let context = try Context(socket)
        await #expect(throws: NNGError.timedOut) { _ = try await context.receive(timeout: .milliseconds(50)) }
        // Socket option default applies when no per-call timeout is given.
        let (timed, _) = try NNGTest.replySocket(SocketOptions(receiveTimeout: .milliseconds(50)))
        defer { timed.close() }
        let timedContext = try Context(timed)
        await #expect(throws: NNGError.timedOut) { _ = try await timedContext.receive() }
    }

    @Test func secondConcurrentOperationIsBusyAndCloseEndsTheFirst() async throws {
        let (socket, _) = try NNGTest.replySocket()
        defer { socket.close() }
        let context = try Context(socket)
        let first = Task { try await context.receive() }
        try await Task.sleep(for: .milliseconds(50))
        await #expect(throws: NNGError.busy) { _ = try await context.receive(timeout: .milliseconds(10)) }
        context.close()
        context.close()   // idempotent
        await #expect(throws: NNGError.closed) { _ = try await first.value }
    }

    @Test func closingSocketEndsPendingReceive() async throws {
        let (socket, _) = try NNGTest.replySocket()
        let context = try Context(socket)
        let pending = Task { try await context.receive() }
        try await Task.sleep(for: .milliseconds(50))
        socket.close()
        await #expect(throws: NNGError.closed) { _ = try await pending.value }
    }
}
