import CNNG
import Logging

/// REP server: `concurrency` contexts on one socket, each looping
/// receive → handler → send reply.
///
/// The handler owns the request and returns the reply (returning the request itself is a
/// zero-copy echo). Errors never end a worker loop: failed receives and sends are logged and
/// the loop continues; only closing the socket or cancelling the task that awaits ``run()``
/// stops it. The concurrency bound doubles as back-pressure: at most `concurrency` requests are
/// held in memory at once; further requests wait in nng/TCP.
public final class ReplyServer: Sendable {
    public let socket: Socket
    public let concurrency: Int
    private let logger: Logger
    private let handler: @Sendable (Message) async -> Message

    /// - Parameters:
    ///   - concurrency: number of contexts, i.e. requests handled at the same time.
    ///   - logger: receives warnings about failed receives/sends (defaults to a
    ///     `tributary.wire.reply` logger, so tests need not import Logging).
    public init(
        socket: Socket, concurrency: Int, logger: Logger = Logger(label: "tributary.wire.reply"),
        handler: @escaping @Sendable (Message) async -> Message
    ) {
        precondition(concurrency > 0, "ReplyServer needs at least one context")
        self.socket = socket
        self.concurrency = concurrency
        self.logger = logger
        self.handler = handler
    }

    /// Serves until the socket is closed or the calling task is cancelled, then returns.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask { await self.serve(worker: worker) }
            }
        }
    }

    private enum Step { case next, stop }

    private func serve(worker: Int) async {
        let context: Context
        do {
            context = try Context(socket)
        } catch {
            if error != .closed {
                logger.error("nng reply context could not be opened", metadata: ["worker": "\(worker)", "error": "\(error)"])
            }
            return
        }
        defer { context.close() }

        while !Task.isCancelled {
            let request: Message
            do {
                request = try await context.receive()
            } catch {
                if await handleFailure(error, while: "receive", worker: worker) == .stop { return }
                continue
            }
            let reply = await handler(request)
            do {
                try await context.send(reply)
            } catch {
                if await handleFailure(error, while: "send", worker: worker) == .stop { return }
            }
        }
    }

    /// Decides whether a failed receive/send ends the worker. Unexpected errors are logged and
    /// followed by a short pause so a persistent failure cannot spin a CPU.
    private func handleFailure(_ error: any Error, while op: String, worker: Int) async -> Step {
        if error is CancellationError || Task.isCancelled { return .stop }
        if let nng = error as? NNGError {
            if nng == .closed { return .stop }
            if nng == .timedOut { return .next }   // the socket has a receive timeout: just poll again
        }
        logger.warning("nng reply \(op) failed", metadata: ["worker": "\(worker)", "error": "\(error)"])
        try? await Task.sleep(for: .milliseconds(10))
        return Task.isCancelled ? .stop : .next
    }
}
