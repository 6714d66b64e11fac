import Hummingbird

/// `POST /api/v1/control/stop`: halt the running session. The round in progress ends at its
/// bounded wait; no further round starts and the session ends as Terminated.
struct ControlRoutes {
    let sessions: SessionManager

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/control/stop") { _, _ in
            guard let id = await sessions.runningSessionId else {
                return APIResponse.message("No session is running")
            }
            _ = try await sessions.stop(sessionId: id)
            return APIResponse.message("Sent stop signal")
        }
    }
}
