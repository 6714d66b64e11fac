import Hummingbird
import HummingbirdWebSocket

/// `GET /ws/events`: a WebSocket that streams the hub's events as JSON text messages until
/// the client disconnects.
enum EventRoutes {
    static func router(events: EventHub, authentication: APIAuthentication?) -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        // Same bearer-token rule as the REST API: events carry command parameters.
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: APIAuthMiddleware(authentication: authentication))
        // The FL Framework API's clients connect at its mount point: the same stream.
        for path in ["/ws/events", FLFrameworkAPI.mountPoint + "/ws/events"] {
            router.ws(RouterPath(path)) { inbound, outbound, _ in
                let (id, stream) = events.subscribe()
                defer { events.cancel(id) }
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
