import Foundation
import Hummingbird

/// An error of the FL Framework API, in its body format:
/// `{"error": {"code", "message", "details", "timestamp"}}` with the seed's codes.
struct FLError: Error {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    let details: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, details: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details ?? message
    }

    /// A shared-layer refusal in this API's body; nil (an unexpected failure) is a 500.
    init(_ refusal: HTTPRefusal?) {
        guard let refusal else {
            self.init(.internalServerError, "INTERNAL_ERROR", "Server internal error", details: "An unexpected error occurred")
            return
        }
        self.init(refusal.status, Self.code(for: refusal.status), refusal.status.reasonPhrase, details: refusal.message)
    }

    static func invalid(_ details: String) -> FLError { FLError(.badRequest, "INVALID_REQUEST", "Malformed request body or parameters", details: details) }
    static func notRegistered(_ id: String) -> FLError {
        FLError(.notFound, "CLIENT_NOT_REGISTERED", "Client not registered with server", details: "The specified client ID '\(id)' is not registered")
    }
    static func notFound(_ details: String) -> FLError { FLError(.notFound, "NOT_FOUND", "Resource not found", details: details) }
    static func experimentNotActive(_ details: String = "No experiment is running") -> FLError {
        FLError(.conflict, "EXPERIMENT_NOT_ACTIVE", "No active experiment running", details: details)
    }
    static func roundNotActive(_ details: String) -> FLError { FLError(.conflict, "ROUND_NOT_ACTIVE", "Specified round is not currently active", details: details) }
    static func validationFailed(_ details: String) -> FLError {
        FLError(.unprocessableContent, "MODEL_VALIDATION_FAILED", "Uploaded model failed validation", details: details)
    }

    /// The seed's generic code for an HTTP status.
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400, 413, 415: "INVALID_REQUEST"
        case 401: "UNAUTHORIZED"
        case 403: "FORBIDDEN"
        case 404: "NOT_FOUND"
        case 409: "CONFLICT"
        case 429: "RATE_LIMITED"
        case 503: "SERVICE_UNAVAILABLE"
        default: "INTERNAL_ERROR"
        }
    }

    var response: Response {
        let body: [String: Any] = ["error": ["code": code, "message": message, "details": details, "timestamp": FLFormat.now()]]
        return (try? APIResponse.object(body, status: status)) ?? Response(status: .internalServerError)
    }
}

/// Turns every error of an FL Framework route into the API's error body (and a log line):
/// its own errors as they are, the shared layer's refusals by status.
struct FLErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as FLError {
            context.logger.notice("request refused", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(error.status.code)", "code": "\(error.code)", "reason": "\(error.details)"])
            return error.response
        } catch {
            let refusal = HTTPRefusal(error)
            HTTPRefusal.log(refusal, error, request, context.logger)
            return FLError(refusal).response
        }
    }
}

/// Shared formatting of the API's bodies.
enum FLFormat {
    static func now() -> String { date(Date()) }
    static func date(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }
    static func date(_ d: Date?) -> Any { d.map(date) ?? NSNull() }
}
