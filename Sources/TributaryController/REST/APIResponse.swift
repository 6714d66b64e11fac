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
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func list<T: Encodable>(count: Int, result: [T]) throws -> Response {
        try json(ListBody(count: count, result: result))
    }

    static func message(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        (try? json(MessageBody(message: text), status: status)) ?? Response(status: .internalServerError)
    }

    struct ListBody<T: Encodable>: Encodable {
        let count: Int
        let result: [T]
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
}

/// Turns every error into a JSON body (404s from the router included) and logs server errors.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            return response
        } catch let error as APIError {
            return APIResponse.message(error.message, status: error.status)
        } catch let error as HTTPError {
            return APIResponse.message(error.body ?? "\(error.status.reasonPhrase)", status: error.status)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return APIResponse.message("An unexpected error occurred", status: .internalServerError)
        }
    }
}
