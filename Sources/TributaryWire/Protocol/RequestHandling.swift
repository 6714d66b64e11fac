import Logging

/// The part every REP endpoint shares: decode the request frame, let `body` build the reply,
/// and turn any failure into an error reply plus a log line — a bad request never ends the
/// serving loop and never goes unanswered.
public enum RequestHandling {
    public static func reply(to message: Message, logger: Logger, _ body: (Frame) async throws -> Message) async -> Message {
        Telemetry.bytesIn.increment(by: Int64(message.count))
        let reply = await answer(message, logger: logger, body)
        Telemetry.bytesOut.increment(by: Int64(reply.count))
        return reply
    }

    private static func answer(_ message: Message, logger: Logger, _ body: (Frame) async throws -> Message) async -> Message {
        do {
            return try await body(Frame.decode(message))
        } catch let error as WireError {
            // `busy` and `rate_limited` are flow control, answered thousands of times a second
            // when many clients wait for upload slots: a warning line each cost more than the answer.
            logger.log(level: error.isRetryable ? .debug : .warning, "request refused", metadata: ["error": "\(error)"])
            return Frame.errorReply(error) ?? message
        } catch {
            logger.error("request failed", metadata: ["error": "\(error)"])
            return Frame.errorReply(WireError(.internal, "\(error)")) ?? message
        }
    }
}
