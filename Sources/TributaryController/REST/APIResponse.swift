import Foundation
import Hummingbird

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

/// Turns every error into a JSON body (404s from the router included) and logs it: client
/// errors at notice level with their message, server errors at error level.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            context.logger.notice("request refused", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(error.status.code)", "reason": "\(error.message)"])
            // Refusals before a dialect's own error layer (authentication) still speak its format.
            if request.uri.path.hasPrefix(FLFrameworkAPI.base) {
                return FLError(error.status, FLError.code(for: error.status), error.status.reasonPhrase, details: error.message).response
            }
            if request.uri.path.hasPrefix(DeviceAPI.base) { return DeviceError(status: error.status, message: error.message).response }
            return APIResponse.message(error.message, status: error.status)
        } catch let error as HTTPError {
            return APIResponse.message(error.body ?? "\(error.status.reasonPhrase)", status: error.status)
        } catch let error as HTTPResponseError {
            // Other errors that carry their status, e.g. a body beyond `collect(upTo:)`'s limit
            // (NIO's too-many-bytes error): 413, not a 500.
            return APIResponse.message(error.status == .contentTooLarge ? "request body is too large" : error.status.reasonPhrase, status: error.status)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return APIResponse.message("An unexpected error occurred", status: .internalServerError)
        }
    }
}
