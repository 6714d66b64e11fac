import Foundation
import GRDB
import Hummingbird
import TributaryStore

/// On-device training jobs (Octomil's `training.create_job | job_status | job_complete`, the
/// paths its Node and browser SDKs call): a device creates one when it accepts a round or
/// starts personalizing, reports progress and state changes, and completes it with metrics.
extension DeviceAPI {
    static let jobStates: Set<String> = ["created", "running", "paused", "completed", "failed", "cancelled"]

    func registerJobs<Context: RequestContext>(on api: RouterGroup<Context>) {
        api.post("devices/:id/training-jobs") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("id"))
            let body = try await request.bodyObject()
            let roundId = try body.string("round_id")
            if let roundId { _ = try requireRound(roundId) }
            let job = TrainingJobRecord(id: Store.newId(), deviceId: device.id, roundId: roundId, modelId: try body.string("model_id"))
            try store.insert(job)
            return try APIResponse.object(present(job), status: .created)
        }
        api.get("devices/:id/training-jobs") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("id"))
            let jobs = try await store.database.read { db in
                try TrainingJobRecord.filter(Column("device_id") == device.id).order(sql: "created_at DESC").fetchAll(db)
            }
            return try APIResponse.object(["jobs": jobs.map(present), "total": jobs.count])
        }
        api.get("devices/:id/training-jobs/:job") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("id"))
            return try APIResponse.object(present(try job(try context.parameters.require("job"), of: device)))
        }
        api.post("devices/:id/training-jobs/:job/status") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("id"))
            var job = try job(try context.parameters.require("job"), of: device)
            try requireOpen(job)
            let body = try await request.bodyObject(allowEmpty: false)
            let state = try body.string("state") ?? body.string("status") ?? (job.state == "created" ? "running" : job.state)
            guard Self.jobStates.contains(state), state != "completed" else {
                throw DeviceError.badRequest("field 'state' must be one of created, running, paused, failed, cancelled (complete a job at /complete)")
            }
            var progress = body
            for key in ["state", "status"] { progress[key] = nil }
            job.state = state
            job.progress = try Self.json(progress)
            job.updatedAt = Date()
            if state == "failed" || state == "cancelled" { job.completedAt = job.updatedAt }
            try store.save(job)
            return try APIResponse.object(present(job))
        }
        api.post("devices/:id/training-jobs/:job/complete") { request, context in
            let device = try actingDevice(try await caller(request), named: try context.parameters.require("id"))
            var job = try job(try context.parameters.require("job"), of: device)
            try requireOpen(job)
            let body = try await request.bodyObject()
            job.metrics = try Self.json(try Self.numberMetrics(body["metrics"]))
            job.adapterArtifact = try body.string("adapter_artifact") ?? body.string("artifact_id")
            job.state = "completed"
            job.updatedAt = Date()
            job.completedAt = job.updatedAt
            try store.save(job)
            return try APIResponse.object(present(job))
        }
    }

    private func job(_ id: String, of device: DeviceRecord) throws -> TrainingJobRecord {
        guard let job = try store.fetch(TrainingJobRecord.self, id: id), job.deviceId == device.id else {
            throw DeviceError.notFound("training job '\(id)' does not exist for device '\(device.deviceIdentifier)'")
        }
        return job
    }

    private func requireOpen(_ job: TrainingJobRecord) throws {
        guard job.completedAt == nil else { throw DeviceError(status: .conflict, message: "training job '\(job.id)' already ended (\(job.state))") }
    }

    private func present(_ job: TrainingJobRecord) -> [String: Any] {
        func object(_ text: String) -> Any { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) ?? [:] }
        return ["id": job.id, "job_id": job.id, "device_id": job.deviceId, "round_id": job.roundId as Any? ?? NSNull(),
                "model_id": job.modelId as Any? ?? NSNull(), "state": job.state, "status": job.state, "progress": object(job.progress),
                "metrics": object(job.metrics), "adapter_artifact": job.adapterArtifact as Any? ?? NSNull(),
                "created_at": FLFormat.date(job.createdAt), "updated_at": FLFormat.date(job.updatedAt), "completed_at": FLFormat.date(job.completedAt)]
    }
}
