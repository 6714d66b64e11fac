import Hummingbird
import HummingbirdWebSocket
import Synchronization

/// `GET /ws/events`: a WebSocket that streams the hub's events as JSON text messages until
/// the client disconnects.
enum EventRoutes {
    static func router(events: EventHub, authentication: APIAuthentication?) -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        // Same bearer-token rule as the REST API: events carry command parameters.
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: APIAuthMiddleware(authentication: authentication))
        // The FL Framework API's clients connect at its mount point: the same stream, one
        // connection per client (its documented limit), the client named by `client_id` or
        // its bearer token; a second one is a 409.
        let slots = ConnectionSlots()
        for path in ["/ws/events", FLFrameworkAPI.mountPoint + "/ws/events"] {
            let limited = path != "/ws/events"
            router.ws(RouterPath(path), shouldUpgrade: { request, _ in
                guard limited, let owner = ConnectionSlots.owner(of: request) else { return .upgrade([:]) }
                guard slots.claim(owner) else {
                    throw APIError(status: .conflict, message: "\(owner) already has an events connection (one per client)")
                }
                return .upgrade([:])
            }) { inbound, outbound, context in
                let (id, stream) = events.subscribe()
                let owner = limited ? ConnectionSlots.owner(of: context.request) : nil
                defer {
                    events.cancel(id)
                    if let owner { slots.release(owner) }
                }
                // Ends when the peer closes: reading inbound finishes, which cancels the writer.
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in stream {
                            do { try await outbound.write(.text(text)) } catch { return }
                        }
                    }
                    group.addTask {
                        do { for try await _ in inbound {} } catch {}
                    }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
        return router
    }
}

/// Who holds an FL-framework events connection (at most one each).
final class ConnectionSlots: Sendable {
    private let owners = Mutex<Set<String>>([])

    static func owner(of request: Request) -> String? {
        if let client = request.uri.queryParameters.get("client_id"), !client.isEmpty { return "client '\(client)'" }
        if let auth = request.headers[.authorization], auth.count > 7 { return "token \(auth.dropFirst(7).prefix(8))…" }
        if let token = request.uri.queryParameters.get("token"), !token.isEmpty { return "token \(token.prefix(8))…" }
        return nil
    }

    func claim(_ owner: String) -> Bool { owners.withLock { $0.insert(owner).inserted } }
    func release(_ owner: String) { _ = owners.withLock { $0.remove(owner) } }
}
