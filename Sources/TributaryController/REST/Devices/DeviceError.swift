import Foundation
import Hummingbird

/// An error of the device API in the body its documentation gives and its SDKs parse:
/// `{"error", "code", "message", "detail", "status_code", "request_id"}` (Octomil's docs name
/// `error`, `message`, `status_code`; its iOS SDK reads `code`, `message`, `detail`,
/// `request_id`).
struct DeviceError: Error {
    let status: HTTPResponse.Status
    let message: String
    var retryAfter: Int? = nil

    static func badRequest(_ message: String) -> DeviceError { DeviceError(status: .badRequest, message: message) }
    static func unauthorized(_ message: String) -> DeviceError { DeviceError(status: .unauthorized, message: message) }
    static func notFound(_ message: String) -> DeviceError { DeviceError(status: .notFound, message: message) }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400, 413, 415, 422: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 409: "conflict"
        case 429: "rate_limited"
        default: "internal_error"
        }
    }

    var response: Response {
        let code = Self.code(for: status)
        let body: [String: Any] = ["error": code, "code": code, "message": message, "detail": message, "status_code": Int(status.code),
                                   "request_id": UUID().uuidString.lowercased()]
        var response = (try? APIResponse.object(body, status: status)) ?? Response(status: .internalServerError)
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        return response
    }
}

/// Turns every error of a device route into the device API's body, with a log line.
struct DeviceErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let error: DeviceError
        do {
            return try await next(request, context)
        } catch let e as DeviceError {
            error = e
        } catch let e as APIError {
            error = DeviceError(status: e.status, message: e.message)
        } catch let e as HTTPError {
            error = DeviceError(status: e.status, message: e.body ?? e.status.reasonPhrase)
        } catch let e as HTTPResponseError {
            error = DeviceError(status: e.status, message: e.status == .contentTooLarge ? "request body is too large" : e.status.reasonPhrase)
        } catch let other {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(other)"])
            error = DeviceError(status: .internalServerError, message: "An unexpected error occurred")
        }
        context.logger.notice("request refused", metadata: [
            "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(error.status.code)", "reason": "\(error.message)"])
        return error.response
    }
}
