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

    /// A shared-layer refusal in this API's body; nil (an unexpected failure) is a 500.
    init(_ refusal: HTTPRefusal?) {
        self.init(status: refusal?.status ?? .internalServerError, message: refusal?.message ?? "An unexpected error occurred")
    }

    init(status: HTTPResponse.Status, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

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
        do {
            return try await next(request, context)
        } catch let error as DeviceError {
            HTTPRefusal.log(HTTPRefusal(status: error.status, message: error.message), error, request, context.logger)
            return error.response
        } catch {
            let refusal = HTTPRefusal(error)
            HTTPRefusal.log(refusal, error, request, context.logger)
            return DeviceError(refusal).response
        }
    }
}
