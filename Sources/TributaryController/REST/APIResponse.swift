import Foundation
import Hummingbird
import Logging

/// JSON responses in the Scaleout Edge / FEDn conventions: `{"count", "result"}` lists, bare
/// integers from `/count`, and every error as `{"message": ...}` with a fitting status.
enum APIResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        body(try encoder.encode(value), status: status)
    }

    /// A `JSONSerialization` value (dictionaries, arrays, strings, numbers, NSNull).
    static func object(_ value: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        body(try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]), status: status)
    }

    static func list(count: Int, result: [Any]) throws -> Response {
        try object(["count": count, "result": result])
    }

    static func message(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        (try? json(MessageBody(message: text), status: status)) ?? Response(status: .internalServerError)
    }

    private static func body(_ data: Data, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct MessageBody: Encodable {
        let message: String
    }
}

/// An error that becomes a JSON `{"message"}` response with its status.
struct APIError: Error {
    let status: HTTPResponse.Status
    let message: String

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, message: message) }
    /// FEDn's wording for an unknown id.
    static func unknownId(_ id: String) -> APIError { notFound("Entity with id: \(id) not found") }
}

/// An error the HTTP layers answer with its own status: ours (`APIError`), Hummingbird's
/// (`HTTPError`, e.g. the router's 404), and others that carry a status (NIO's body limit: a
/// 413, not a 500). Every dialect's error middleware renders these in its own body.
struct HTTPRefusal {
    let status: HTTPResponse.Status
    let message: String

    init(status: HTTPResponse.Status, message: String) {
        self.status = status
        self.message = message
    }

    init?(_ error: any Error) {
        switch error {
        case let e as APIError: (status, message) = (e.status, e.message)
        case let e as HTTPError: (status, message) = (e.status, e.body ?? e.status.reasonPhrase)
        case let e as HTTPResponseError: (status, message) = (e.status, e.status == .contentTooLarge ? "request body is too large" : e.status.reasonPhrase)
        default: return nil
        }
    }

    /// Logs a refusal (notice) or an unexpected failure (error) of `request`.
    static func log(_ refusal: HTTPRefusal?, _ error: any Error, _ request: Request, _ logger: Logger) {
        if let refusal {
            logger.notice("request refused", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(refusal.status.code)", "reason": "\(refusal.message)"])
        } else {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
        }
    }
}

/// Turns every error into a JSON body (404s from the router included) and logs it: client
/// errors at notice level with their message, server errors at error level. Refusals before a
/// dialect's own error layer (authentication, unknown paths) still speak that dialect's format.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let refusal = HTTPRefusal(error)
            HTTPRefusal.log(refusal, error, request, context.logger)
            let path = request.uri.path
            if path.hasPrefix(FLFrameworkAPI.base) { return FLError(refusal).response }
            if path.hasPrefix(DeviceAPI.base) { return DeviceError(refusal).response }
            guard let refusal else { return APIResponse.message("An unexpected error occurred", status: .internalServerError) }
            return APIResponse.message(refusal.message, status: refusal.status)
        }
    }
}
