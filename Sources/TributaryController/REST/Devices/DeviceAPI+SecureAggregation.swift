import Foundation
import Hummingbird
import TributarySecAgg
import TributaryWire

/// SecAgg+ stage routes for devices (seed `001_…`'s four stages and status query), under
/// `training/rounds/{round_id}/secagg/`: the same calls an nng client makes to its combiner, as
/// JSON — `keys` (stage 0), `shares` (1: bundles by recipient), `masked` (2: the vector, base64 of
/// u32 little-endian; 202 Accepted), `unmask` (3: `waiting` until the cohort has what it needs,
/// then `completed` or `failed`), `status`. Each reply holds the stage and what it has opened for
/// this device; the README's "The protocol, byte for byte" is the contract. With an org key,
/// `device_id` names the device.
extension DeviceAPI {
    func registerSecureAggregation<Context: RequestContext>(on api: RouterGroup<Context>) {
        for (path, kind) in [("keys", MessageKind.secaggKeys), ("shares", .secaggBundles), ("masked", .secaggMasked), ("unmask", .secaggUnmask)] {
            api.post("training/rounds/:id/secagg/\(path)") { request, context in
                try await secureCall(request, roundId: try context.parameters.require("id"), kind: kind)
            }
        }
        api.get("training/rounds/:id/secagg/status") { request, context in
            let principal = try await caller(request)
            let roundId = try context.parameters.require("id")
            _ = try await secureView(roundId, for: nil)   // 409 before any question about the device
            let device = try actingDevice(principal, named: request.uri.queryParameters.get("device_id"))
            let view = try await secureView(roundId, for: device.deviceIdentifier)
            guard let state = view.state else {
                throw DeviceError(status: .forbidden, message: "device '\(device.deviceIdentifier)' is not a participant of round '\(roundId)'")
            }
            var body = try Self.stateBody(state)
            body["round_id"] = roundId
            body["job_id"] = view.order.jobId
            body["participants"] = view.counts
            body["config"] = try Self.secaggConfig(view.config, clipNorm: view.order.clipNorm, unweighted: view.order.unweighted == true || view.order.clipNorm != nil)
            return try APIResponse.object(body)
        }
    }

    /// The open round's secure aggregation as `device` sees it, if `roundId` is it; 404/409 otherwise.
    private func secureView(_ roundId: String, for device: String?) async throws -> (order: JobOrder, config: SecAggConfig, counts: [String: Int], state: SecAggState?) {
        let round = try requireRound(roundId)
        guard await openCohort(for: round) != nil, let view = await cohort.secureView(for: device) else {
            throw DeviceError(status: .conflict, message: "round '\(roundId)' is not running secure aggregation now")
        }
        return view
    }

    private func secureCall(_ request: Request, roundId: String, kind: MessageKind) async throws -> Response {
        let principal = try await caller(request)
        let jobId = try await secureView(roundId, for: nil).order.jobId
        let body = try await request.bodyObject(limit: 64 << 20)
        let device = try actingDevice(principal, named: try body.string("device_id"))
        func map(_ field: String) throws -> [String: String]? {
            guard let value = body[field] else { return nil }
            guard let map = value as? [String: String] else { throw DeviceError.badRequest("field '\(field)' must be an object of base64 strings") }
            return map
        }
        var vector: [UInt32]?
        if kind == .secaggMasked {
            guard let text = try body.string("vector"), let data = Data(base64Encoded: text) else {
                throw DeviceError.badRequest("field 'vector' is required: base64 of the masked vector as u32 little-endian")
            }
            let bytes = [UInt8](data)
            do { vector = try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(WireError) in try SecureUpdate.decode(raw) } } catch {
                throw DeviceError.badRequest((error as? WireError)?.message ?? "\(error)")
            }
        }
        var metrics: [String: Double]?
        if let raw = body["metrics"] {
            guard let values = raw as? [String: Any], values.values.allSatisfy({ ($0 as? Double)?.isFinite == true }) else {
                throw DeviceError.badRequest("field 'metrics' must be an object of finite numbers")
            }
            metrics = values.compactMapValues { $0 as? Double }
        }
        let call = SecAggRequest(jobId: jobId, clientId: device.deviceIdentifier, maskingKey: try body.string("masking_key"),
                                 sharingKey: try body.string("sharing_key"), bundles: try map("bundles"), shares: try map("shares"), metrics: metrics)
        let state: SecAggState
        do { state = try await cohort.secure(kind, call, vector: vector) } catch {
            switch error {
            case .secure(let refusal) where refusal.kind == .outOfOrder || refusal.kind == .duplicate:
                throw DeviceError(status: .conflict, message: refusal.message)
            case .secure(let refusal): throw DeviceError.badRequest(refusal.message)
            case .notSelected: throw DeviceError(status: .forbidden, message: "device '\(device.deviceIdentifier)' is not a participant of round '\(roundId)'")
            default: throw DeviceError(status: .conflict, message: "round '\(roundId)' is not running secure aggregation now")
            }
        }
        var out = try Self.stateBody(state)
        out["round_id"] = roundId
        out["job_id"] = jobId
        if kind == .secaggUnmask { out["status"] = state.stage == .completed ? "completed" : state.stage == .failed ? "failed" : "waiting" }
        return try APIResponse.object(out, status: kind == .secaggMasked ? .accepted : .ok)
    }

    /// What a device needs to build its vector: the SecAgg+ parameters (snake_case, as in a
    /// session_config), the L2 clip of central DP and whether every update weighs 1.
    static func secaggConfig(_ config: SecAggConfig, clipNorm: Double?, unweighted: Bool) throws -> [String: Any] {
        var body = (try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any]) ?? [:]
        body["clip_norm"] = clipNorm as Any? ?? NSNull()
        body["unweighted"] = unweighted
        return body
    }

    /// A state as the JSON object the routes answer with.
    static func stateBody(_ state: SecAggState) throws -> [String: Any] {
        let data = try JSONEncoder().encode(state)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
}
