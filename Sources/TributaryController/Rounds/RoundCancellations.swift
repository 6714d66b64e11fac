/// Sessions whose current round was cancelled (seed `001_…`'s cancel): unlike a stop, which
/// lets the current round finish, a cancelled round discards whatever was aggregated so far
/// and is recorded as failed with a reason that starts with `cancelled`.
actor RoundCancellations {
    private var sessions: Set<String> = []

    func cancel(_ sessionId: String) { sessions.insert(sessionId) }

    func isCancelled(_ sessionId: String) -> Bool { sessions.contains(sessionId) }

    static let reasonPrefix = "cancelled"
}
