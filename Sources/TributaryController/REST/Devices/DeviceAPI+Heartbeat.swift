import Foundation
import Hummingbird
import TributaryStore

/// Heartbeats and device-key authentication.
extension DeviceAPI {
    /// The device a request's bearer key belongs to; 401 without one or with an unknown key.
    func authenticatedDevice(_ request: Request) throws -> DeviceRecord {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "), header.count > 7 else {
            throw DeviceError.unauthorized("Missing API key: send 'Authorization: Bearer <api_key>'")
        }
        let hash = Self.hash(String(header.dropFirst(7)))
        guard let device = try store.fetchAll(DeviceRecord.self, where: "api_key_hash", equals: hash).first else {
            throw DeviceError.unauthorized("Invalid API key")
        }
        return device
    }

    /// Counts a request of `device` against its limit; 429 with `Retry-After` past it.
    func admit(_ device: DeviceRecord) async throws {
        let decision = await limiter.take("device|\(device.id)", limit: requestsPerMinute, seconds: 60)
        guard decision.allowed else {
            throw DeviceError(status: .tooManyRequests, message: "rate limit of \(requestsPerMinute) requests a minute reached for this device",
                              retryAfter: decision.retryAfter)
        }
    }

    /// `PUT|POST /devices/{id}/heartbeat` (server id or identifier) and the id-less form,
    /// which names the device by `device_identifier`/`device_id` in the body or by its key.
    func heartbeat(_ request: Request, id: String?) async throws -> Response {
        let caller = try authenticatedDevice(request)
        try await admit(caller)
        let body = try await request.bodyObject()
        let named = try id ?? body.string("device_identifier") ?? body.string("device_id")
        if let named {
            guard let target = try find(named) else { throw DeviceError.notFound("device '\(named)' is not registered") }
            guard target.id == caller.id else {
                throw DeviceError(status: .forbidden, message: "this API key belongs to device '\(caller.deviceIdentifier)', not '\(target.deviceIdentifier)'")
            }
        }
        var device = caller
        if let status = try body.string("status") {
            guard ["active", "inactive"].contains(status) else { throw DeviceError.badRequest("field 'status' must be active or inactive") }
            device.reportedStatus = status
        }
        if let metrics = body["metrics"], !(metrics is NSNull) {
            guard metrics is [String: Any] else { throw DeviceError.badRequest("field 'metrics' must be an object") }
            device.metrics = try Self.json(metrics)
        }
        let now = Date()
        device.lastHeartbeat = now
        try store.save(device)
        var out = present(device, detailed: false)
        out["server_time"] = FLFormat.date(now)
        if let open = await cohort.openRound, open.pending.contains(device.deviceIdentifier) {
            out["pending_round_id"] = "\(open.order.sessionId)-r\(open.order.round)"
            out["message"] = "Training round \(open.order.round) is awaiting your participation."
        } else {
            out["pending_round_id"] = NSNull()
            out["message"] = "No training round is awaiting this device."
        }
        out["metadata"] = [String: Any]()
        return try APIResponse.object(out)
    }
}
