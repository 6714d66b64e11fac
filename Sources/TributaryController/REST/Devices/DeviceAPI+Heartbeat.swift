import Foundation
import Hummingbird
import TributaryStore

/// Heartbeats: liveness, the device's reported state, and the round awaiting it.
extension DeviceAPI {
    /// `PUT|POST /devices/{id}/heartbeat` (server id or identifier) and the id-less form,
    /// which names the device by `device_identifier`/`device_id` in the body or by its key.
    func heartbeat(_ request: Request, id: String?) async throws -> Response {
        let principal = try await caller(request)
        let body = try await request.bodyObject()
        var device = try actingDevice(principal, named: try id ?? body.string("device_identifier") ?? body.string("device_id"))
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
            out["pending_round_id"] = RoundRecord.id(sessionId: open.order.sessionId, roundNumber: open.order.round)
            out["message"] = "Training round \(open.order.round) is awaiting your participation."
        } else if let cancelled = try cancelledRound(for: device) {
            out["pending_round_id"] = NSNull()
            out["cancelled_round_id"] = cancelled
            out["message"] = "Training round \(cancelled) was cancelled: stop training for it."
        } else {
            out["pending_round_id"] = NSNull()
            out["message"] = "No training round is awaiting this device."
        }
        out["metadata"] = [String: Any]()
        return try APIResponse.object(out)
    }
}
